import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { Hono } from "hono";
import { requireFeature as honoRequireFeature, type EntitlementVariables } from "../src/hono.js";
import { requireFeature as nodeRequireFeature, type EntitlementRequest } from "../src/node.js";
import { BILLING_URL, MOBILE_OFFER, sdkFor, startWorker, type FakeWorker } from "./helpers.js";

let w: FakeWorker;
beforeEach(async () => {
  w = await startWorker();
  w.users.set("u-local", { tier: "local", status: "active" });
  w.users.set("u-mobile", { tier: "mobile", status: "active" });
  w.users.set("u-susp", { tier: "mobile", status: "suspended" });
  w.users.set("u-late", { tier: "mobile", status: "past_due", grace_until: w.clock.s + 14 * 86400 });
});
afterEach(() => w.close());

function honoApp(sdk = sdkFor(w)) {
  const app = new Hono<{ Variables: EntitlementVariables }>();
  const guard = honoRequireFeature(sdk, "nationwide_search", { userId: (c) => c.req.header("x-user-id") });
  app.get("/jobs/nationwide", guard, (c) => {
    const decision = c.get("entitlement");
    return c.json({ ok: true, reason: decision.reason, tier: c.get("entitlementClaims")?.tier });
  });
  return app;
}

describe("Hono requireFeature", () => {
  it("lets an entitled user through and exposes the decision and claims on the context", async () => {
    const res = await honoApp().request("/jobs/nationwide", { headers: { "x-user-id": "u-mobile" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, reason: "included", tier: "mobile" });
    expect(res.headers.get("entitlement-warning")).toBeNull();
  });

  it("answers 403 problem+json with the upgrade prompt for a feature of a higher tier", async () => {
    const res = await honoApp().request("/jobs/nationwide", { headers: { "x-user-id": "u-local" } });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toEqual({
      type: "urn:federal-job-advisor:entitlements:not_in_tier",
      title: "Upgrade required",
      status: 403,
      detail: "Upgrade to Mobile ($49/month) to use this feature.",
      feature: "nationwide_search",
      reason: "not_in_tier",
      upgrade: MOBILE_OFFER,
    });
  });

  it("answers 403 with the billing URL for a suspended user", async () => {
    const res = await honoApp().request("/jobs/nationwide", { headers: { "x-user-id": "u-susp" } });
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body).toMatchObject({ status: 403, reason: "suspended", billing_url: BILLING_URL, title: "Update your payment method" });
    expect(body.detail).toMatch(/update your payment method/i);
  });

  it("lets a past-due user through with an Entitlement-Warning header", async () => {
    const res = await honoApp().request("/jobs/nationwide", { headers: { "x-user-id": "u-late" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reason: "payment_past_due" });
    expect(res.headers.get("entitlement-warning")).toBe(`payment_past_due; grace_until=${w.clock.s + 14 * 86400}`);
  });

  it("answers 401 when no user is authenticated and 503 when entitlements are unavailable", async () => {
    const app = honoApp();
    expect((await app.request("/jobs/nationwide")).status).toBe(401);
    w.failWith = 503;
    const res = await app.request("/jobs/nationwide", { headers: { "x-user-id": "u-mobile" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ reason: "unavailable", status: 503 });
  });
});

describe("Express / node:http requireFeature", () => {
  let server: Server;
  let base: string;
  let sdk: ReturnType<typeof sdkFor>;
  beforeAll(async () => {
    const app = express();
    app.get("/jobs/nationwide", nodeRequireFeature({ evaluate: (u, f) => sdk.evaluate(u, f) }, "nationwide_search", { userId: (req: express.Request) => req.header("x-user-id") }), (req, res) => {
      const { entitlement, entitlementClaims } = req as express.Request & EntitlementRequest;
      res.json({ ok: true, reason: entitlement?.reason, tier: entitlementClaims?.tier });
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    sdk = sdkFor(w);
  });
  const get = (user?: string) => fetch(`${base}/jobs/nationwide`, { headers: user ? { "x-user-id": user } : {} });

  it("lets an entitled user through with req.entitlement set", async () => {
    const res = await get("u-mobile");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, reason: "included", tier: "mobile" });
  });

  it("answers 403 problem+json with the upgrade prompt for a feature of a higher tier", async () => {
    const res = await get("u-local");
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ status: 403, reason: "not_in_tier", feature: "nationwide_search", upgrade: MOBILE_OFFER });
  });

  it("answers 403 with the billing URL for a suspended user", async () => {
    const res = await get("u-susp");
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ reason: "suspended", billing_url: BILLING_URL });
  });

  it("lets a past-due user through with an Entitlement-Warning header", async () => {
    const res = await get("u-late");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reason: "payment_past_due" });
    expect(res.headers.get("entitlement-warning")).toMatch(/^payment_past_due; grace_until=\d+$/);
  });

  it("answers 401 without a user", async () => {
    const res = await get();
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("passes errors thrown by the userId callback to next()", async () => {
    const mw = nodeRequireFeature(sdk, "nationwide_search", {
      userId: () => {
        throw new Error("session store down");
      },
    });
    const err = await new Promise((resolve) => mw({ headers: {} }, { statusCode: 0, setHeader() {}, end() {} }, resolve));
    expect(err).toBeInstanceOf(Error);
  });
});
