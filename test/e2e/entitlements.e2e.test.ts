/**
 * Issue 6 end to end: the worker (workerd, D1) signs entitlement tokens; the SDK in Node fetches
 * them over HTTP, verifies them against the worker's JWKS and gates a Hono route with
 * `requireFeature`. States are changed in D1 the way the worker changes them (setEntitlementState).
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createTokenManager, type TokenManager } from "../../packages/entitlements/src/manager.ts";
import { requireFeature, type EntitlementVariables } from "../../packages/entitlements/src/hono.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

const FEATURE = "nationwide_job_search";
const TTL = 600; // the harness's ENTITLEMENTS_TOKEN_TTL_SECONDS
const TOLERANCE = 30; // the SDK's default clockTolerance
const REFRESH_BEFORE = 60; // the SDK's default refreshBefore

/** An SDK client with a clock the test moves forward, and the main app's route gated by it. */
function mainApp(worker: Pick<WorkerHarness, "url" | "serviceKey" | "issuer" | "audience">) {
  let skewMs = 0;
  const sdk: TokenManager = createTokenManager({
    baseUrl: worker.url,
    apiKey: worker.serviceKey,
    issuer: worker.issuer,
    audience: worker.audience,
    timeout: 2_000,
    now: () => Date.now() + skewMs,
  });
  const app = new Hono<{ Variables: EntitlementVariables }>();
  app.get("/nationwide", requireFeature(sdk, FEATURE, { userId: (c) => c.req.header("x-user-id") }), (c) => c.json({ jobs: [], reason: c.get("entitlement").reason }));
  return {
    sdk,
    get: (userId: string) => app.request("/nationwide", { headers: { "x-user-id": userId } }),
    /** Sets the SDK's clock to this unix time, in seconds (the worker keeps the real clock). */
    setNow: (unixSeconds: number) => {
      skewMs = unixSeconds * 1000 - Date.now();
    },
  };
}

describe("entitlements end to end (worker in workerd, SDK in Node)", () => {
  let worker: WorkerHarness;
  beforeAll(async () => {
    worker = await startWorker();
  });
  afterAll(async () => {
    await worker?.dispose();
  });

  test("a local user is refused nationwide search with a mobile upgrade prompt as problem+json", async () => {
    const { get } = mainApp(worker);
    await worker.setEntitlement("u-local", { tier: "local", status: "active" });
    const res = await get("u-local");
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 403,
      reason: "not_in_tier",
      feature: FEATURE,
      detail: "Upgrade to Mobile ($49/month) to use this feature.",
      upgrade: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "monthly" }, url: `${worker.appBaseUrl}/billing/upgrade?tier=mobile` },
    });
  });

  test("the local decision from the token equals the worker's online check", async () => {
    const { sdk } = mainApp(worker);
    await worker.setEntitlement("u-agree", { tier: "local", status: "active" });
    for (const feature of [FEATURE, "local_job_search", "no_such_feature"]) {
      const online = await worker.request("/v1/entitlements/check", { key: worker.serviceKey, json: { user_id: "u-agree", feature } });
      expect(online.status).toBe(200);
      const local = await sdk.check("u-agree", feature);
      // Both say when their data was read: the SDK's token (NumericDate, in process), the online
      // check's own read (an RFC 3339 instant on the wire).
      const { as_of: onlineAsOf, ...onlineRest } = (await online.json()) as { as_of: string };
      const { as_of: localAsOf, ...localRest } = JSON.parse(JSON.stringify(local)) as { as_of: number };
      expect(localRest).toEqual(onlineRest);
      expect(Math.abs(Date.parse(onlineAsOf) / 1000 - localAsOf)).toBeLessThanOrEqual(2);
    }
  });

  test("an upgrade to mobile is visible at once after invalidate()", async () => {
    const { sdk, get } = mainApp(worker);
    await worker.setEntitlement("u-upgrade", { tier: "local", status: "active" });
    expect((await get("u-upgrade")).status).toBe(403);

    await worker.setEntitlement("u-upgrade", { tier: "mobile", status: "active" });
    expect((await get("u-upgrade")).status).toBe(403); // still the cached token
    sdk.invalidate("u-upgrade");
    const res = await get("u-upgrade");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jobs: [], reason: "included" });
  });

  test("an upgrade to mobile is picked up by the background refresh before the token expires", async () => {
    const { sdk, get, setNow } = mainApp(worker);
    await worker.setEntitlement("u-refresh", { tier: "local", status: "active" });
    expect((await get("u-refresh")).status).toBe(403);
    const { exp } = await sdk.forUser("u-refresh");
    await worker.setEntitlement("u-refresh", { tier: "mobile", status: "active" });

    setNow(exp - REFRESH_BEFORE + 1); // inside the refresh window, token still valid
    expect((await get("u-refresh")).status).toBe(403); // answered from cache, refresh started
    await vi.waitFor(async () => expect((await get("u-refresh")).status).toBe(200), { timeout: 10_000, interval: 50 });
  });

  test("a suspended user is refused with a link to update the payment method", async () => {
    const { get } = mainApp(worker);
    await worker.setEntitlement("u-suspended", { tier: "mobile", status: "suspended" });
    const res = await get("u-suspended");
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 403, reason: "suspended", title: "Update your payment method", billing_url: `${worker.appBaseUrl}/billing` });
    expect(String(body.detail)).toMatch(/payment method/i);
  });

  test("a past-due user keeps access with an Entitlement-Warning header until the grace ends", async () => {
    const { get } = mainApp(worker);
    const graceUntil = Date.now() + 10 * 86_400_000;
    await worker.setEntitlement("u-past-due", { tier: "mobile", status: "past_due", graceUntil });
    const res = await get("u-past-due");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jobs: [], reason: "payment_past_due" });
    expect(res.headers.get("entitlement-warning")).toBe(`payment_past_due; grace_until=${Math.floor(graceUntil / 1000)}`);
  });
});

describe("entitlements when the worker is down", () => {
  test("the last token keeps deciding until it expires, then the route answers 503 unavailable", async () => {
    const worker = await startWorker();
    const { sdk, get, setNow } = mainApp(worker);
    let exp: number;
    try {
      await worker.setEntitlement("u-down", { tier: "mobile", status: "active" });
      expect((await get("u-down")).status).toBe(200);
      ({ exp } = await sdk.forUser("u-down"));
      expect(exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(TTL - 10);
    } finally {
      await worker.dispose();
    }

    expect((await get("u-down")).status).toBe(200); // cached token, no network
    setNow(exp - REFRESH_BEFORE + 5); // refresh window: the background refresh fails quietly
    expect((await get("u-down")).status).toBe(200);
    expect((await get("u-down")).status).toBe(200);
    setNow(exp + TOLERANCE - 1); // last second of validity (exp + clock tolerance)
    expect((await get("u-down")).status).toBe(200);

    setNow(exp + TOLERANCE + 1); // expired: fail closed
    const res = await get("u-down");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 503, reason: "unavailable", feature: FEATURE });
    expect(body).not.toHaveProperty("upgrade");
    const { decision, error } = await sdk.evaluate("u-down", FEATURE);
    expect(decision).toMatchObject({ allowed: false, reason: "unavailable" });
    expect(error?.code).toBe("ERR_WORKER_UNAVAILABLE");
  });
});
