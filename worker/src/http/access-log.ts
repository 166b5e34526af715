/**
 * One JSON line per request, after the response is settled (onError's problems included):
 * request id, method, the matched route's pattern (never the raw path or query, which carry user
 * ids, emails in a search, tokens in a link), status, duration and the API key's id. No header,
 * body or key material is read here, so none can reach the log.
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Clock } from "../clock";
import { jsonLogger } from "../log";
import type { AppEnv } from "./context";

/**
 * @param afterAnswer write the line once the response has been handed over (waitUntil, a timer
 *   turn later), so the caller does not wait for it: the webhook route, whose sender (Stripe)
 *   waits for nothing but the 200. Without an execution context (app.request() in a test) the
 *   line is written at once.
 */
export function accessLog(clock: Clock, { afterAnswer = false }: { afterAnswer?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = clock.now();
    await next();
    // Middleware is mounted for every method ("ALL"); the route that answered has its own.
    const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? null;
    const clientRequestId = c.get("clientRequestId");
    const actor = c.get("actor");
    // The request's own logger; a request that failed before services were built logs alike.
    const log = c.get("services")?.log ?? jsonLogger();
    const fields = {
      request_id: c.get("requestId"),
      ...(clientRequestId ? { client_request_id: clientRequestId } : {}),
      method: c.req.method,
      route,
      status: c.res.status,
      duration_ms: clock.now() - started,
      ...(actor ? { key_id: actor.id, role: actor.role } : {}),
    };
    const write = () => log.log(c.res.status >= 500 ? "error" : "info", "request", fields);
    if (afterAnswer) {
      try {
        c.executionCtx.waitUntil(new Promise<void>((done) => setTimeout(done, 0)).then(write));
        return;
      } catch {
        // No execution context: write it now.
      }
    }
    write();
  };
}
