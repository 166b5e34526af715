import type { Context } from "hono";
import type { Actor } from "../audit";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/** Who a keyed request acts as, in this request: for the audit log, Stripe's idempotency and a tool's permission. */
export function actorOf(c: Context<AppEnv>): Actor {
  const actor = c.get("actor");
  if (!actor) throw new ApiError("unauthenticated", "This route needs an API key.");
  const idempotencyKey = c.get("idempotencyKey");
  return { ...actor, requestId: c.get("requestId"), ...(idempotencyKey ? { idempotencyKey } : {}) };
}
