import type { Context } from "hono";
import type { Actor } from "../audit/chain";
import { ApiError } from "./errors";
import type { AppEnv } from "./context";

/** The audit actor of a keyed request. */
export function actorOf(c: Context<AppEnv>): Actor {
  const principal = c.get("principal");
  if (!principal) throw new ApiError("unauthenticated", "This route needs an API key.");
  return { type: "api_key", id: principal.keyId };
}
