import { z, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "./errors";
import { KEYLESS, type Permission } from "../auth";
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
  const keyed = "x-idempotent" in route ? withIdempotencyHeader(route) : route;
  return { route: takesNoBody(keyed) ? withNoBody(keyed) : keyed, handler };
}

const WRITE_METHODS = new Set(["post", "put", "patch", "delete"]);

/**
 * A write route that declares no request body, and does not read its raw bytes itself (the
 * webhook route declares `"x-raw-body": true`): a body sent to it is refused, since the caller
 * meant something the route would silently ignore.
 */
export function takesNoBody(route: RouteConfig): boolean {
  return WRITE_METHODS.has(route.method) && route.request?.body === undefined && !("x-raw-body" in route);
}

/** Runs after the route's own middleware (the permission comes first), before the handler. */
function withNoBody<R extends RouteConfig>(route: R): R {
  const own = route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware];
  return { ...route, middleware: [...own, refuseBody] };
}

const refuseBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (await hasBody(c)) {
    throw new ApiError("body_not_allowed", `${c.req.method} ${c.req.path} takes no request body; send none (the request was not acted on).`, {
      errors: [{ field: "body", message: "must be empty: this route takes no body" }],
    });
  }
  return next();
};

/** Any byte counts. Unread, only the first chunk is read, so a long body is not buffered to refuse it. */
async function hasBody(c: Context<AppEnv>): Promise<boolean> {
  const length = c.req.header("content-length");
  if (length !== undefined && length.trim() !== "0") return true;
  const raw = c.req.raw;
  if (raw.body === null) return false;
  // The idempotency middleware has read it already: ask Hono's copy.
  if (raw.bodyUsed) return (await c.req.arrayBuffer()).byteLength > 0;
  const reader = raw.clone().body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
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
