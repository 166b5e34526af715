import { z, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { KEYLESS, type Permission } from "../auth/permissions";
import type { AppEnv } from "./context";
import { idempotency, IdempotencyKeyHeader } from "./idempotency";
import { problem } from "./schemas";
import { authorize } from "./middleware";

/**
 * What a route declares beside its method and path: the permission, checked before any input
 * is parsed, and its trace in the OpenAPI document (`x-permission`, the bearer scheme).
 * Spread it into `createRoute({ method, path, ...guard("keys:manage"), ... })`.
 * `idempotent: true` makes a retry with the same `Idempotency-Key` get the first answer again
 * (http/idempotency.ts); writes a client may retry after a timeout declare it.
 */
export function guard<P extends Permission>(
  permission: P,
  options: { idempotent?: boolean } = {},
): { middleware: MiddlewareHandler<AppEnv>[]; security?: { apiKey: string[] }[]; "x-permission": P; "x-idempotent"?: true } {
  if (options.idempotent && KEYLESS.has(permission)) throw new Error(`an idempotent route needs an API key, so its keys are the caller's own (${permission} is keyless)`);
  return {
    middleware: options.idempotent ? [authorize(permission), idempotency()] : [authorize(permission)],
    ...(KEYLESS.has(permission) ? {} : { security: [{ apiKey: [] }] }),
    "x-permission": permission,
    ...(options.idempotent ? { "x-idempotent": true as const } : {}),
  };
}

/** A route and its handler, as every route file exports them (`export default handle(...)`). */
export interface ApiRoute {
  route: RouteConfig & { "x-permission": Permission };
  handler: unknown;
}

export function handle<R extends RouteConfig & { "x-permission": Permission }>(route: R, handler: RouteHandler<R, AppEnv>): ApiRoute {
  return { route: "x-idempotent" in route ? withIdempotencyHeader(route) : route, handler };
}

/** Documents the Idempotency-Key header beside the route's own headers, and the refusals it adds. */
function withIdempotencyHeader<R extends RouteConfig>(route: R): R {
  const own = route.request?.headers;
  if (own && !(own instanceof z.ZodObject)) throw new Error(`${route.method} ${route.path}: declare request headers as one z.object to take Idempotency-Key`);
  return {
    ...route,
    request: { ...route.request, headers: own ? own.extend(IdempotencyKeyHeader.shape) : IdempotencyKeyHeader },
    // The route's own description of a status stays; these only fill the gaps.
    responses: {
      409: problem("The first request with this Idempotency-Key is still running (Retry-After), or stopped without an answer"),
      422: problem("This Idempotency-Key was used for another request"),
      ...route.responses,
    },
  };
}
