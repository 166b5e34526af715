import type { MiddlewareHandler } from "hono";
import { authenticate } from "../auth/api-keys";
import { KEYLESS, roleHas, type Permission } from "../auth/permissions";
import { isDomainError } from "../errors";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/** Every route gets this from its `guard(...)`: the permission is checked before any input. */
export function authorize(permission: Permission): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (KEYLESS.has(permission)) return next();
    const header = c.req.header("authorization");
    if (!header) throw new ApiError("unauthenticated", "Send an API key as `Authorization: Bearer fja_...`.", { headers: { "www-authenticate": 'Bearer realm="billing"' } });
    const match = /^Bearer ([^\s]+)$/.exec(header);
    if (!match?.[1]) throw new ApiError("unauthenticated", "The Authorization header is malformed: expected `Bearer fja_...`.", { headers: { "www-authenticate": 'Bearer realm="billing", error="invalid_request"' } });
    const services = c.get("services");
    const { principal, touch } = await authenticate(services, match[1]).catch((e: unknown) => {
      if (isDomainError(e, "unauthenticated")) {
        throw new ApiError(e.code, e.message, { headers: { "www-authenticate": 'Bearer realm="billing", error="invalid_token"' } });
      }
      throw e;
    });
    if (touch) services.defer(touch);
    if (!roleHas(principal.role, permission)) {
      throw new ApiError("forbidden", `This ${principal.role} key may not do this: the route needs the \`${permission}\` permission.`, { extensions: { required_permission: permission } });
    }
    c.set("principal", principal);
    await limit(c.env.RATE_LIMIT_KEY, `key:${principal.keyId}`, "this API key");
    return next();
  };
}

async function limit(binding: RateLimit | undefined, key: string, who: string): Promise<void> {
  if (!binding) return;
  const { success } = await binding.limit({ key });
  if (!success) {
    // The binding counts in fixed 60 s windows, so a minute is the honest upper bound.
    throw new ApiError("rate_limited", `Too many requests from ${who}; wait a minute and retry.`, { headers: { "retry-after": "60" } });
  }
}

/** Per client IP, before authentication, so a flood of bad keys is cut off early too. */
export const rateLimitByIp: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ip = c.req.header("cf-connecting-ip") ?? "unknown";
  await limit(c.env.RATE_LIMIT_IP, `ip:${ip}`, "your address");
  return next();
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
