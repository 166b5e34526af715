import type { Context, MiddlewareHandler } from "hono";
import { authenticate, actorHas, KEYLESS, type Permission } from "../auth";
import type { Env } from "../env";
import { isDomainError } from "../errors";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/** Every route gets this from its `guard(...)`: the permission is checked before any input. */
export function authorize(permission: Permission): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (KEYLESS.has(permission)) {
      await limitUnkeyed(c);
      return next();
    }
    const header = c.req.header("authorization");
    if (!header) throw new ApiError("unauthenticated", "Send an API key as `Authorization: Bearer fja_...`.", { headers: { "www-authenticate": 'Bearer realm="billing"' } });
    const match = /^Bearer ([^\s]+)$/.exec(header);
    if (!match?.[1]) {
      await limitUnkeyed(c);
      throw new ApiError("unauthenticated", "The Authorization header is malformed: expected `Bearer fja_...`.", {
        headers: { "www-authenticate": 'Bearer realm="billing", error="invalid_request"' },
      });
    }
    const services = c.get("services");
    const { actor, touch } = await authenticate(services, match[1]).catch(async (e: unknown) => {
      // A bad key counts against the keyless clients' bucket: guessing keys gets no bucket of its own.
      await limitUnkeyed(c);
      if (isDomainError(e, "unauthenticated")) {
        throw new ApiError(e.code, e.message, { headers: { "www-authenticate": 'Bearer realm="billing", error="invalid_token"' } });
      }
      throw e;
    });
    if (touch) services.defer(touch);
    if (c.get("addressLimit") === "by_key") {
      c.set("addressLimit", "done");
      await limit(c.env.RATE_LIMIT_IP, `client:key:${actor.id}`, "this client");
    }
    if (!actorHas(actor, permission)) {
      throw new ApiError("forbidden", `This ${actor.role} key may not do this: the route needs the \`${permission}\` permission.`, { extensions: { required_permission: permission } });
    }
    c.set("actor", actor);
    await limit(c.env.RATE_LIMIT_KEY, `key:${actor.id}`, "this API key");
    return next();
  };
}

/**
 * Counts `calls` more requests of the caller's key, for a request that carries several (an MCP
 * batch): `authorize` counted the request once. Refused as a whole, before any call runs, once
 * the key's limit is reached.
 */
export async function limitKeyCalls(c: Context<AppEnv>, calls: number): Promise<void> {
  const actor = c.get("actor");
  if (!actor) return;
  for (let i = 0; i < calls; i++) await limit(c.env.RATE_LIMIT_KEY, `key:${actor.id}`, "this API key");
}

async function limit(binding: RateLimit | undefined, key: string, who: string): Promise<void> {
  if (!binding) return;
  const { success } = await binding.limit({ key });
  if (!success) {
    // The binding counts in fixed 60 s windows, so a minute is the honest upper bound.
    throw new ApiError("rate_limited", `Too many requests from ${who}; wait a minute and retry.`, { headers: { "retry-after": "60" } });
  }
}

/**
 * The client's IP address, where it can be trusted: on Cloudflare the edge sets
 * `cf-connecting-ip` itself, replacing whatever the client sent. Under `wrangler dev`
 * (ENVIRONMENT development) nothing stands in front of the worker: Miniflare copies the socket's
 * address into the header only when the client sent none, so the header is the client's to
 * choose, and every local client has the same socket address anyway. In the test suites the
 * harness is the only caller and sets the header as the edge would.
 * @returns null where no edge vouches for it (development) or it is missing.
 */
export function edgeClientIp(env: Pick<Env, "ENVIRONMENT">, headers: Headers): string | null {
  if (env.ENVIRONMENT === "development") return null;
  return headers.get("cf-connecting-ip")?.trim() || null;
}

/** The bucket of every client the worker cannot tell apart: no trusted address, no valid API key. */
const UNKEYED = "client:unkeyed";

/** A request whose per-address limit waited for its API key, and found none that is valid. */
async function limitUnkeyed(c: Context<AppEnv>): Promise<void> {
  if (c.get("addressLimit") !== "by_key") return;
  c.set("addressLimit", "done");
  await limit(c.env.RATE_LIMIT_IP, UNKEYED, "clients without a valid API key");
}

/**
 * Per client, before authentication, so a flood of bad keys is cut off early too. The client is
 * its address where the edge vouches for one (edgeClientIp). Elsewhere a client is its API key:
 * the limit waits for authorize() to know the key (`client:key:<id>`, the same 300 a minute as
 * an address); requests without a valid key share one bucket, since nothing they send (a
 * header, a made-up key) can tell them apart.
 */
export const rateLimitByIp: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ip = edgeClientIp(c.env, c.req.raw.headers);
  if (ip !== null) {
    await limit(c.env.RATE_LIMIT_IP, `ip:${ip}`, "your address");
    return next();
  }
  if (c.req.header("authorization") === undefined) {
    await limit(c.env.RATE_LIMIT_IP, UNKEYED, "clients without a valid API key");
    return next();
  }
  c.set("addressLimit", "by_key");
  await next();
  // A route that never asked for the key (a page, a 404): it still counts, as a keyless client.
  if (c.get("addressLimit") === "by_key") await c.env.RATE_LIMIT_IP?.limit({ key: UNKEYED });
};

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** JSON routes take JSON only; anything else is a 415 before it reaches a validator. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (BODY_METHODS.has(c.req.method)) {
    const type = c.req.header("content-type");
    const length = c.req.header("content-length");
    const hasBody = type !== undefined || (length !== undefined && length !== "0");
    if (hasBody && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type ?? "")) {
      throw new ApiError("unsupported_media_type", `Send the body as JSON with Content-Type: application/json (got ${type ? `\`${type}\`` : "no Content-Type"}).`, {
        errors: [{ field: "header.content-type", message: "must be application/json" }],
      });
    }
  }
  return next();
};
