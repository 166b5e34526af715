/**
 * The dashboard's pages: a session cookie instead of an Authorization header, HTML instead of
 * problem+json, and a strict Content-Security-Policy. A page route spreads
 * `...session.guard(permission)` into its createRoute, as an API route spreads `guard(...)`.
 */
import type { MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { readSession, SESSION_TTL_MS, actorHas, KEYLESS, type Permission } from "../auth";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/**
 * `__Host-`: the browser takes it only with Secure, Path=/ and no Domain, so neither plain http
 * nor a sibling subdomain can plant or overwrite it.
 */
export const SESSION_COOKIE = "__Host-fja_dashboard";

export const LOGIN_PATH = "/dashboard/login";

/** No inline script or style anywhere: the pages load /dashboard/static/*.js and *.css only. */
export const DASHBOARD_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const headers = secureHeaders({
  contentSecurityPolicy: DASHBOARD_CSP,
  permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
});

/** Revenue figures must not sit in a shared cache or the back-forward cache after sign-out. */
export const pageHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await headers(c, next);
  c.header("cache-control", "no-store");
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Every dashboard request that changes state comes from this origin (Origin, or Sec-Fetch-Site),
 * whatever its content type: a cross-site form or a no-cors fetch (a Blob body
 * has no Content-Type) could otherwise sign a browser into someone else's session or out of its
 * own. `guard` puts it on every page route, so a new form cannot forget it.
 */
export const sameOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const origin = c.req.header("origin");
  const ownOrigin = new URL(c.req.url).origin;
  // Either proves it, as in hono's csrf(): behind a proxy (wrangler dev, miniflare's entry) the
  // URL the worker sees may not carry the browser's host, while the browser's Sec-Fetch-Site does.
  const same = (origin !== undefined && origin === ownOrigin) || c.req.header("sec-fetch-site") === "same-origin";
  if (!same) throw new ApiError("forbidden", "This form may be posted only from the dashboard's own pages.", { errors: [{ field: "header.origin", message: `must be ${ownOrigin}` }] });
  return next();
};

export function startSession(c: Parameters<MiddlewareHandler<AppEnv>>[0], token: string, expiresAt: number): void {
  const maxAge = Math.max(1, Math.floor((expiresAt - c.get("services").clock.now()) / 1000));
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, secure: true, sameSite: "Strict", path: "/", maxAge: Math.min(maxAge, SESSION_TTL_MS / 1000) });
}

export function endSession(c: Parameters<MiddlewareHandler<AppEnv>>[0]): void {
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
}

export const sessionToken = (c: Parameters<MiddlewareHandler<AppEnv>>[0]): string | undefined => getCookie(c, SESSION_COOKIE);

/**
 * A page needs a live session whose key's role holds `permission`; without one the browser is
 * sent to the sign-in form (a stale cookie is cleared on the way).
 */
function requireSession(permission: Permission): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const session = await readSession(c.get("services"), sessionToken(c));
    if (!session || !actorHas(session.actor, permission)) {
      if (sessionToken(c) !== undefined) endSession(c);
      return c.redirect(LOGIN_PATH, 303);
    }
    c.set("actor", session.actor);
    return next();
  };
}

/**
 * What a page route declares beside its method and path, with any middleware to run after the
 * session check. A request that changes state is checked for same origin first (`sameOrigin`). Pages are left out of the OpenAPI document (`hide`): they answer HTML to a
 * browser with a cookie, not JSON to a key.
 */
export function guard<P extends Permission>(permission: P, ...then: MiddlewareHandler<AppEnv>[]): { middleware: MiddlewareHandler<AppEnv>[]; hide: true; "x-permission": P } {
  return {
    middleware: [pageHeaders, sameOrigin, ...(KEYLESS.has(permission) ? [] : [requireSession(permission)]), ...then],
    hide: true,
    "x-permission": permission,
  };
}
