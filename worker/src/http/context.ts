import type { Actor } from "../audit";
import type { Env } from "../env";
import type { Services } from "../services";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** The worker's own id for the request (http/request-id.ts). */
    requestId: string;
    /** The caller's x-request-id, when it is short and plain: logged beside ours, never used as ours. */
    clientRequestId?: string;
    /** The API key the request acts as (http/middleware.ts, or the dashboard session's key). */
    actor?: Actor;
    /**
     * The per-address limit is waiting for the API key (http/middleware.ts): set where no edge
     * vouches for the client's address and the request carries an Authorization header.
     */
    addressLimit?: "by_key" | "done";
    /** Set by http/idempotency.ts when the request carries an Idempotency-Key: see Actor.idempotencyKey. */
    idempotencyKey?: string;
    /** Built once per request by the first middleware; routes pass it to the domain. */
    services: Services;
  };
}
