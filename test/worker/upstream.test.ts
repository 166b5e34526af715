import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { makeKey } from "./helpers";

describe("Stripe outages", () => {
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
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = await res.json<{ type: string; detail: string }>();
    expect(problem.type).toMatch(/upstream-unavailable$/);
    expect(problem.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  }, 60_000);
});
