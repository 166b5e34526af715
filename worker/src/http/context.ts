import type { Principal } from "../auth/api-keys";
import type { Env } from "../env";
import type { Services } from "../services";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal?: Principal;
    /** Built once per request by the first middleware; routes pass it to the domain. */
    services: Services;
  };
}
