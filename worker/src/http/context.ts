import type { Principal } from "../auth/api-keys";
import type { Env } from "../env";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal?: Principal;
    /** Overridable clock: tests and the emulator's test clocks set it; production uses Date.now(). */
    now: number;
  };
}
