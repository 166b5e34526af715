import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { KEYLESS, type Permission } from "../auth/permissions";
import type { AppEnv } from "./context";
import { authorize } from "./middleware";

/**
 * What a route declares beside its method and path: the permission, checked before any input
 * is parsed, and its trace in the OpenAPI document (`x-permission`, the bearer scheme).
 * Spread it into `createRoute({ method, path, ...guard("keys:manage"), ... })`.
 */
export function guard<P extends Permission>(permission: P): { middleware: [MiddlewareHandler<AppEnv>]; security?: { apiKey: string[] }[]; "x-permission": P } {
  return {
    middleware: [authorize(permission)],
    ...(KEYLESS.has(permission) ? {} : { security: [{ apiKey: [] }] }),
    "x-permission": permission,
  };
}

/** A route and its handler, as every route file exports them (`export default handle(...)`). */
export interface ApiRoute {
  route: RouteConfig & { "x-permission": Permission };
  handler: unknown;
}

export function handle<R extends RouteConfig & { "x-permission": Permission }>(route: R, handler: RouteHandler<R, AppEnv>): ApiRoute {
  return { route, handler };
}
