/**
 * What a caller gets when Stripe fails or refuses: a problem it can act on, with Stripe's code
 * but never Stripe's message (which may name our account's objects).
 */
import { createExecutionContext, env } from "cloudflare:test";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { onError } from "../../worker/src/http/problem";
import { newRouter } from "../../worker/src/http/router";
import { makeKey } from "./helpers";

async function problemOf(res: Response) {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return res.json<{ type: string; code: string; detail: string; stripe_code?: string; decline_code?: string }>();
}

/** The error handler on its own, behind a route that throws what Stripe's client would. */
async function answerTo(error: Error): Promise<Response> {
  const app = newRouter();
  app.get("/throws", () => {
    throw error;
  });
  app.onError(onError);
  return app.request("/throws");
}

describe("Stripe outages and refusals", () => {
  it("answers 502 upstream-unavailable, without Stripe's message, when Stripe cannot be reached", async () => {
    const admin = (await makeKey("admin")).key;
    // The same worker, with Stripe pointed at a port nothing listens on.
    const broken = { ...env, STRIPE_API_BASE: "http://127.0.0.1:9" };
    const res = await createApp().request(
      "http://billing.test/v1/admin/resync",
      { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.90" }, body: JSON.stringify({ restart: true, pages: 1 }) },
      broken,
      createExecutionContext(),
    );
    expect(res.status).toBe(502);
    const problem = await problemOf(res);
    expect(problem.type).toMatch(/upstream-unavailable$/);
    expect(problem.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  }, 60_000);

  it("answers 503 config-invalid, naming the setting and not the key, when Stripe refuses the deployment's key", async () => {
    const service = (await makeKey("service")).key;
    const wrongKey = { ...env, STRIPE_SECRET_KEY: "sk_test_not_this_accounts_key_0000" };
    const res = await createApp().request(
      "http://billing.test/v1/checkout",
      {
        method: "POST",
        headers: { authorization: `Bearer ${service}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.92" },
        body: JSON.stringify({ user_id: "user_wrong_key", email: "pat@example.com", tier: "local" }),
      },
      wrongKey,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    const problem = await problemOf(res);
    expect(problem.code).toBe("config_invalid");
    expect(problem.detail).toContain("STRIPE_SECRET_KEY");
    expect(problem.detail).not.toMatch(/sk_test|Invalid API Key/);
  });

  it("answers a refusal of the objects' current state with 409 and Stripe's code, a declined card with 402, Stripe's rate limit with 503 and Retry-After", async () => {
    const missing = await answerTo(new Stripe.errors.StripeInvalidRequestError({ type: "invalid_request_error", code: "resource_missing", message: "No such subscription: 'sub_secret123'" }));
    expect(missing.status).toBe(409);
    const conflict = await problemOf(missing);
    expect(conflict).toMatchObject({ code: "conflict", stripe_code: "resource_missing" });
    expect(conflict.detail).not.toContain("sub_secret123");

    // Stripe refuses much of the objects' state with no code at all (a released schedule, an inactive promotion code).
    const released = await answerTo(
      new Stripe.errors.StripeInvalidRequestError({ type: "invalid_request_error", message: "You cannot release a subscription schedule that is currently in the `released` status." }),
    );
    expect(released.status).toBe(409);
    expect((await problemOf(released)).detail).not.toContain("released` status");

    const declined = await answerTo(new Stripe.errors.StripeCardError({ type: "card_error", code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." }));
    expect(declined.status).toBe(402);
    expect(await problemOf(declined)).toMatchObject({ code: "payment_failed", decline_code: "insufficient_funds" });

    const limited = await answerTo(new Stripe.errors.StripeRateLimitError({ type: "invalid_request_error", code: "rate_limit", message: "Too many requests" }));
    expect(limited.status).toBe(503);
    expect(limited.headers.get("retry-after")).toBe("60");
  });

  it("answers 500 when Stripe finds our own request malformed, and 502 when Stripe itself fails", async () => {
    const malformed = await answerTo(
      new Stripe.errors.StripeInvalidRequestError({ type: "invalid_request_error", code: "parameter_unknown", param: "foo", message: "Received unknown parameter: foo" }),
    );
    expect(malformed.status).toBe(500);
    expect((await problemOf(malformed)).detail).not.toContain("foo");
    const down = await answerTo(new Stripe.errors.StripeAPIError({ type: "api_error", message: "Stripe is having trouble" }));
    expect(down.status).toBe(502);
  });
});
