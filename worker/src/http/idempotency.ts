import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isDomainError } from "../errors";
import { claimIdempotencyKey, type IdempotentRequest } from "../idempotency/claim";
import { completeIdempotencyKey } from "../idempotency/complete";
import { IDEMPOTENCY_KEY_PATTERN } from "../idempotency/policy";
import { releaseIdempotencyKey } from "../idempotency/release";
import { requestHash } from "../idempotency/request-hash";
import { describeError } from "../log";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

const HEADER = "idempotency-key";

/** The header as the OpenAPI document shows it on every route that takes it. */
export const IdempotencyKeyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .optional()
    .openapi({
      description:
        "Send the same key when you retry this request (after a timeout or a dropped connection): the first answer is given again, with `Idempotent-Replayed: true`, instead of acting twice. Kept 24 hours per API key. Another request with a used key is a 422; a retry while the first is running is a 409. A 5xx answer is not kept, so retrying it runs the request again.",
      example: "3f1c2a8e-6d1b-4f7a-9a55-0c2b7e1d9f40",
    }),
});

/**
 * Runs after `authorize` on routes that declare `guard(permission, { idempotent: true })`.
 * Without the header the request runs as usual. With it, the first request claims the key and
 * its answer (any status under 500) is kept; a retry gets that answer back without running.
 */
export function idempotency(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header(HEADER);
    const principal = c.get("principal");
    if (key === undefined || !principal) return next();
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new ApiError("validation_failed", "The Idempotency-Key header must be 1 to 255 printable characters without spaces, such as a UUID.", {
        errors: [{ field: `header.${HEADER}`, message: "must be 1-255 printable ASCII characters without spaces" }],
      });
    }
    const s = c.get("services");
    const request: IdempotentRequest = {
      apiKeyId: principal.keyId,
      key,
      method: c.req.method,
      path: c.req.path,
      requestHash: await requestHash(c.req.method, c.req.path, await c.req.text()),
    };
    const claim = await claimIdempotencyKey(s, request).catch((e: unknown) => {
      if (isDomainError(e, "idempotency_key_in_use")) throw new ApiError(e.code, e.message, { errors: [{ field: `header.${HEADER}`, message: "its request is still running" }], headers: { "retry-after": "1" } });
      throw e;
    });
    if (claim.kind === "replay") {
      const { status, contentType, body } = claim.response;
      return c.body(body, status as ContentfulStatusCode, { ...(contentType ? { "content-type": contentType } : {}), "idempotent-replayed": "true" });
    }

    await next();
    // Errors reach here as their problem response already (Hono's compose runs onError first).
    const res = c.res;
    try {
      if (res.status >= 500) await releaseIdempotencyKey(s, request, claim.token);
      else await completeIdempotencyKey(s, request, claim.token, { status: res.status, contentType: res.headers.get("content-type"), body: await res.clone().text() });
    } catch (e) {
      // The answer stands; the claim is taken over by the same request once it is abandoned.
      s.log.log("error", "could not record the idempotent answer", { error: describeError(e) });
    }
  };
}
