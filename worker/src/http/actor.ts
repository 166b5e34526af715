import type { Context } from "hono";
import type { Caller } from "../audit";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/** Who a keyed request acts as, for the audit log. */
export function callerOf(c: Context<AppEnv>): Caller {
  const principal = c.get("principal");
  if (!principal) throw new ApiError("unauthenticated", "This route needs an API key.");
  const idempotencyKey = c.get("idempotencyKey");
  return { actor: { type: "api_key", id: principal.keyId }, requestId: c.get("requestId"), ...(idempotencyKey ? { idempotencyKey } : {}) };
}
