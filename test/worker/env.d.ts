import type { D1Migration } from "cloudflare:test";
import type { Env as WorkerEnv } from "../../worker/src/env";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
      /** A second handle on the database behind DB. */
      DB_RACE: D1Database;
    }
  }
}
