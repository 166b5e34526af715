import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { KEYLESS, ROUTES, type RouteName } from "../auth/permissions";
import { authorize } from "./middleware";

type Spec<N extends RouteName> = (typeof ROUTES)[N];

/**
 * createRoute with the method, path and permission taken from the ROUTES table, so a route
 * file cannot forget its permission or declare one the table does not know.
 */
export function defineRoute<N extends RouteName, R extends Omit<RouteConfig, "method" | "path" | "middleware">>(name: N, config: R) {
  const spec = ROUTES[name];
  const keyless = KEYLESS.has(spec.permission);
  return createRoute({
    ...config,
    method: spec.method as Spec<N>["method"],
    path: spec.path as Spec<N>["path"],
    summary: spec.summary,
    tags: [...spec.tags],
    operationId: name,
    middleware: [authorize(spec.permission)] as const,
    ...(keyless ? {} : { security: [{ apiKey: [] }] }),
    "x-permission": spec.permission,
  } as R & { method: Spec<N>["method"]; path: Spec<N>["path"]; middleware: [ReturnType<typeof authorize>] });
}
