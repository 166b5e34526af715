/**
 * One structured line per request, captured from the worker's console as Logpush or
 * `wrangler tail` would see it: the worker's request id, method, route pattern, status, duration
 * and key id, and nothing the caller sent (no Authorization header, no key, no email, no path).
 * The webhook route's line is the same, written once its 200 is handed over.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../worker/src/app";
import { call, makeKey } from "./helpers";
import { sign, stripeEvent } from "./stripe-helpers";

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  const keep = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  vi.spyOn(console, "log").mockImplementation(keep);
  vi.spyOn(console, "error").mockImplementation(keep);
  vi.spyOn(console, "warn").mockImplementation(keep);
  vi.spyOn(console, "info").mockImplementation(keep);
});
afterEach(() => vi.restoreAllMocks());

const requestLines = (requestId: string | null) =>
  lines
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return null;
      }
    })
    .filter((l) => l?.message === "request" && l.request_id === requestId);

describe("request logs", () => {
  it("logs one line per keyed request with its request id, method, route, status, duration and key id, and none of the caller's secrets or personal data", async () => {
    const { key, id } = await makeKey("service");
    const email = "pat.secret-person@example.com";
    const userId = `logs_user_${Date.now()}`;
    const res = await call("POST", "/v1/checkout", { key, body: { user_id: userId, email, tier: "plan_that_does_not_exist" }, headers: { "x-request-id": "client-abc" } });
    expect(res.status).toBe(400);
    const requestId = res.headers.get("x-request-id");
    const mine = requestLines(requestId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toEqual({
      level: "info",
      message: "request",
      request_id: requestId,
      client_request_id: "client-abc",
      method: "POST",
      route: "/v1/checkout",
      status: 400,
      duration_ms: expect.any(Number),
      key_id: id,
      role: "service",
    });
    const all = lines.join("\n");
    for (const secret of [key, key.slice(0, 12), "Bearer", email, "example.com", userId]) expect(all).not.toContain(secret);
  });

  it("logs a request refused for its key without the key, and an unknown path without the path", async () => {
    const badKey = "fja_this_key_does_not_exist_0123456789";
    const refused = await call("GET", "/v1/events", { key: badKey });
    expect(refused.status).toBe(401);
    expect(requestLines(refused.headers.get("x-request-id"))).toEqual([
      { level: "info", message: "request", request_id: refused.headers.get("x-request-id"), method: "GET", route: "/v1/events", status: 401, duration_ms: expect.any(Number) },
    ]);
    const missing = await call("GET", "/v1/nothing-here/pat@example.com");
    expect(missing.status).toBe(404);
    expect(requestLines(missing.headers.get("x-request-id"))).toMatchObject([{ method: "GET", route: null, status: 404 }]);
    const all = lines.join("\n");
    for (const secret of [badKey, "Bearer", "pat@example.com", "nothing-here"]) expect(all).not.toContain(secret);
  });

  it("logs the route's pattern, not the user id in the path", async () => {
    const { key } = await makeKey("analyst");
    const userId = `logs_path_user_${Date.now()}`;
    const res = await call("GET", `/v1/subscriptions/${userId}`, { key });
    const [line] = requestLines(res.headers.get("x-request-id"));
    expect(line).toMatchObject({ method: "GET", route: "/v1/subscriptions/:user_id", status: res.status });
    expect(lines.join("\n")).not.toContain(userId);
  });
});

describe("the webhook route's request line", () => {
  it("is written after the 200 has been handed over, with the route and status, and nothing of the body or signature", async () => {
    const event = stripeEvent(`evt_logs_${Date.now()}`, "charge.succeeded", { id: `ch_logs_${Date.now()}`, object: "charge" });
    const payload = JSON.stringify(event);
    const signature = await sign(payload);
    const ctx = createExecutionContext();
    const res = await createApp().fetch(
      new Request("http://billing.test/webhooks/stripe", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body: payload }),
      env,
      ctx,
    );
    expect(res.status, await res.clone().text()).toBe(200);
    const requestId = res.headers.get("x-request-id");
    // Answered, and the line not yet written: Stripe did not wait for it.
    expect(requestLines(requestId)).toEqual([]);
    await waitOnExecutionContext(ctx);
    expect(requestLines(requestId)).toEqual([{ level: "info", message: "request", request_id: requestId, method: "POST", route: "/webhooks/stripe", status: 200, duration_ms: expect.any(Number) }]);
    const all = lines.join("\n");
    for (const secret of [signature, "whsec_"]) expect(all).not.toContain(secret);
  });
});
