import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { sha256Hex } from "../crypto";
import { isDomainError } from "../errors";
import { IdempotencyKey } from "../fields";
import { claimIdempotencyKey, type IdempotentRequest, completeIdempotencyKey, keepsAnswer, REPLAYED_HEADERS, releaseIdempotencyKey, requestHash } from "../idempotency";
import { describeError } from "../log";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

const HEADER = "idempotency-key";

/** The header as the OpenAPI document shows it on every route that takes it. */
export const IdempotencyKeyHeader = z.object({
  "idempotency-key": IdempotencyKey.optional().openapi({
    description:
      "Send the same key when you retry this request (after a timeout or a dropped connection): the answer of the request that acted (a 2xx, or a 402 after a charge attempt) is given again, with `Idempotent-Replayed: true`, instead of acting twice. Kept 24 hours per API key. Any other answer changed nothing and frees the key, so a retry runs again. Another request (method, path or body bytes) with a used key is a 422; a retry while the first is running is a 409 with Retry-After; a first request that stopped without an answer makes it a 409 `idempotency-outcome-unknown`.",
    example: "3f1c2a8e-6d1b-4f7a-9a55-0c2b7e1d9f40",
  }),
});

/**
 * Runs after `authorize` on routes that declare `guard(permission, { idempotent: true })`.
 * Without the header the request runs as usual. With it, the first request claims the key and
 * its answer is kept when the request acted (`keepsAnswer`: 2xx, or a 402 after a charge
 * attempt); a retry gets that answer back without running. Any other answer frees the key.
 */
export function idempotency(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header(HEADER);
    const actor = c.get("actor");
    if (key === undefined || !actor) return next();
    const checked = IdempotencyKey.safeParse(key);
    if (!checked.success) {
      throw new ApiError("validation_failed", "The Idempotency-Key header must be 1 to 255 printable characters without spaces, such as a UUID.", {
        errors: [{ field: `header.${HEADER}`, message: checked.error.issues[0]!.message }],
      });
    }
    const s = c.get("services");
    const request: IdempotentRequest = {
      apiKeyId: actor.id,
      key,
      method: c.req.method,
      path: c.req.path,
      requestHash: await requestHash(c.req.method, c.req.path, await c.req.text()),
    };
    const claim = await claimIdempotencyKey(s, request).catch((e: unknown) => {
      if (isDomainError(e, "idempotency_key_in_use"))
        throw new ApiError(e.code, e.message, { errors: [{ field: `header.${HEADER}`, message: "its request is still running" }], headers: { "retry-after": "1" } });
      throw e;
    });
    // Stripe's own idempotency key for the writes the route makes: the same for a retry of this
    // very request, another for another caller's key or another body.
    c.set("idempotencyKey", await sha256Hex(`${request.apiKeyId}\n${key}\n${request.requestHash}`));
    if (claim.kind === "replay") {
      const { status, contentType, headers, body } = claim.response;
      return c.body(body, status as ContentfulStatusCode, { ...headers, ...(contentType ? { "content-type": contentType } : {}), "idempotent-replayed": "true" });
    }

    // The request and the record of its answer run to the end even when the client hangs up (a
    // timeout is what a key is for): the runtime cancels a request's own work on a disconnect,
    // not what it handed to waitUntil, and a claim left started would make every retry wait.
    const work = (async () => {
      await next();
      // Errors reach here as their problem response already (Hono's compose runs onError first).
      const res = c.res;
      try {
        if (keepsAnswer(res.status)) {
          const headers = Object.fromEntries(REPLAYED_HEADERS.flatMap((h) => (res.headers.has(h) ? [[h, res.headers.get(h)!]] : [])));
          await completeIdempotencyKey(s, request, claim.token, { status: res.status, contentType: res.headers.get("content-type"), headers, body: await res.clone().text() });
        } else {
          await releaseIdempotencyKey(s, request, claim.token);
        }
      } catch (e) {
        // The answer stands; retries with the key are told its outcome is unknown once the claim is old.
        s.log.log("error", "could not record the idempotent answer", { error: describeError(e) });
      }
    })();
    s.defer(work);
    await work;
  };
}
