import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context";

/**
 * Serves a file from the ASSETS binding when there is one; a path with no file goes on to the
 * app, whose not-found handler answers problem+json. wrangler.toml runs the worker first for
 * these paths because an asset-only path answers a miss with an empty, untyped 404.
 */
export const staticAssets: MiddlewareHandler<AppEnv> = async (c, next) => {
  const assets = c.env.ASSETS;
  if (!assets || (c.req.method !== "GET" && c.req.method !== "HEAD")) return next();
  const res = await assets.fetch(c.req.raw);
  if (res.status === 404) return next();
  // The binding's headers are immutable; the app's header middleware adds to them on the way out.
  return new Response(res.body, res);
};
