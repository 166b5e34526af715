import type { Context } from "hono";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/**
 * The handler for a request no route matched: 404 for an unknown path, 405 with `Allow` for a
 * known path and the wrong method. Built from the routes the app registered.
 */
export function notFound(routes: { method: string; path: string }[]) {
  const patterns = routes.map((r) => ({ method: r.method.toUpperCase(), regex: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, "[^/]+")}$`) }));
  return (c: Context<AppEnv>): never => {
    const path = new URL(c.req.url).pathname;
    const allowed = patterns.filter((p) => p.regex.test(path)).map((p) => p.method);
    if (allowed.length > 0) {
      if (allowed.includes("GET")) allowed.push("HEAD");
      throw new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${path}; use ${allowed.join(" or ")}.`, { headers: { allow: allowed.join(", ") } });
    }
    throw new ApiError("not_found", `There is no ${path}; see /openapi.json for the routes.`);
  };
}
