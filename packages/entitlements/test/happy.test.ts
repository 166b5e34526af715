import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { can, limit } from "../src/index.js";
import { BILLING_URL, MOBILE_OFFER, LOCAL_OFFER, entitlementPayload, signToken, sdkFor, startWorker, type FakeWorker } from "./helpers.js";

let w: FakeWorker;
beforeEach(async () => {
  w = await startWorker();
  w.users.set("u-local", { tier: "local", status: "active" });
  w.users.set("u-mobile", { tier: "mobile", status: "active" });
});
afterEach(() => w.close());

describe("verify", () => {
  it("returns typed, frozen claims for a token signed by a JWKS key", async () => {
    const sdk = sdkFor(w);
    const claims = await sdk.verify(await w.sign("u-local"));
    expect(claims).toMatchObject({ sub: "u-local", tier: "local", status: "active", iss: "https://billing.test", aud: "federal-job-advisor" });
    expect(claims.features).toEqual(["job_search", "commute_search"]);
    expect(Object.isFrozen(claims)).toBe(true);
    expect(Object.isFrozen(claims.features)).toBe(true);
    expect(JSON.parse(JSON.stringify(claims)).sub).toBe("u-local"); // the hidden index is not serialized
  });

  it("fetches the JWKS once for many verifications of the same kid", async () => {
    const sdk = sdkFor(w);
    const tokens = await Promise.all(["u-local", "u-mobile"].flatMap((u) => [w.sign(u), w.sign(u)]));
    await Promise.all(tokens.map((t) => sdk.verify(t)));
    for (const t of tokens) await sdk.verify(t);
    expect(w.hits.jwks).toBe(1);
  });

  it("accepts an aud array containing the audience and an nbf within tolerance", async () => {
    const sdk = sdkFor(w);
    const payload = { ...entitlementPayload("u-local", { tier: "local", status: "active" }), nbf: w.clock.s + 20 };
    const token = await signToken(payload, w.signing, { iat: w.clock.s });
    await expect(sdk.verify(token)).resolves.toMatchObject({ sub: "u-local" });
    const multi = await signToken({ ...entitlementPayload("u-local", { tier: "local", status: "active" }), aud: ["other-app", "federal-job-advisor"] }, w.signing, { iat: w.clock.s });
    await expect(sdk.verify(multi)).resolves.toMatchObject({ sub: "u-local" });
  });

  it("accepts a tier name that is not in today's catalog (enterprise)", async () => {
    const sdk = sdkFor(w);
    const payload = { ...entitlementPayload("u-agency", { tier: "mobile", status: "active" }), tier: "enterprise" };
    const claims = await sdk.verify(await signToken(payload, w.signing, { iat: w.clock.s }));
    expect(claims.tier).toBe("enterprise");
    expect(can(claims, "nationwide_search").allowed).toBe(true);
  });
});

describe("prepaid multi-year prices in upgrade offers", () => {
  for (const [billing_cycle, amount, label] of [
    ["two_year", 88200, "$882/2 years"],
    ["three_year", 122500, "$1225/3 years"],
  ] as const) {
    it(`reads a ${billing_cycle} price and writes it as ${label}`, async () => {
      const offer = { ...MOBILE_OFFER, price: { amount, currency: "usd", billing_cycle } };
      const payload = { ...entitlementPayload("u-local", { tier: "local", status: "active" }), upgrade: { nationwide_search: offer } };
      const claims = await sdkFor(w).verify(await signToken(payload, w.signing, { iat: w.clock.s }));
      const d = can(claims, "nationwide_search");
      expect(d).toMatchObject({ allowed: false, upgrade: offer });
      expect(d.message).toBe(`Upgrade to Mobile (${label}) to use this feature.`);
    });
  }
});

describe("can", () => {
  async function claimsOf(state: Parameters<typeof entitlementPayload>[1]) {
    w.users.set("u", state);
    return sdkFor(w).verify(await w.sign("u"));
  }

  it("allows a feature included in the active tier", async () => {
    const c = await claimsOf({ tier: "local", status: "active" });
    expect(can(c, "commute_search")).toEqual({ allowed: true, reason: "included", as_of: c.iat });
  });

  it("denies a feature of a higher tier with the upgrade prompt from the claims", async () => {
    const d = can(await claimsOf({ tier: "local", status: "active" }), "nationwide_search");
    expect(d).toMatchObject({ allowed: false, reason: "not_in_tier", upgrade: MOBILE_OFFER });
    expect(d.message).toBe("Upgrade to Mobile ($49/month) to use this feature.");
  });

  it("allows a trialing user with the trial end date", async () => {
    const trialEnd = w.clock.s + 7 * 86400;
    const d = can(await claimsOf({ tier: "local", status: "trialing", trial_end: trialEnd }), "job_search");
    expect(d).toMatchObject({ allowed: true, reason: "trialing", trial_end: trialEnd });
    expect(d.message).toContain("2026-01-22");
  });

  it("allows a past-due user during grace, with a warning and the billing URL", async () => {
    const grace = w.clock.s + 14 * 86400;
    const d = can(await claimsOf({ tier: "mobile", status: "past_due", grace_until: grace }), "nationwide_search");
    expect(d).toMatchObject({ allowed: true, reason: "payment_past_due", grace_until: grace, billing_url: BILLING_URL });
    expect(d.message).toMatch(/payment failed.*update your payment method before 2026-01-29/i);
  });

  it("denies a suspended user with an update-your-payment-method answer", async () => {
    const d = can(await claimsOf({ tier: "mobile", status: "suspended" }), "nationwide_search");
    expect(d).toMatchObject({ allowed: false, reason: "suspended", billing_url: BILLING_URL });
    expect(d.message).toMatch(/update your payment method/i);
  });

  it("denies a paused user every feature with a resume-it answer and the billing URL", async () => {
    const d = can(await claimsOf({ tier: "mobile", status: "paused" }), "nationwide_search");
    expect(d).toMatchObject({ allowed: false, reason: "paused", billing_url: BILLING_URL });
    expect(d.message).toMatch(/paused.*resume/i);
  });

  it("allows a paused user the features the worker's policy kept in the token", async () => {
    const c = await claimsOf({ tier: "local", status: "paused", pausedKeepsAccess: true });
    expect(can(c, "job_search")).toMatchObject({ allowed: true, reason: "included" });
    expect(can(c, "nationwide_search")).toMatchObject({ allowed: false, reason: "not_in_tier", upgrade: MOBILE_OFFER });
  });

  it("denies after the trial expired with a subscribe prompt", async () => {
    const d = can(await claimsOf({ tier: "local", status: "trial_expired" }), "job_search");
    expect(d).toMatchObject({ allowed: false, reason: "trial_expired", upgrade: LOCAL_OFFER });
    expect(d.message).toBe("Your free trial has ended. Subscribe to Local ($29/month) to continue.");
  });

  it("denies a canceled user and a user without subscription with a subscribe prompt", async () => {
    expect(can(await claimsOf({ tier: "mobile", status: "canceled" }), "nationwide_search")).toMatchObject({ allowed: false, reason: "canceled", upgrade: MOBILE_OFFER });
    expect(can(await claimsOf({ tier: null, status: "none" }), "job_search")).toMatchObject({ allowed: false, reason: "no_subscription", upgrade: LOCAL_OFFER });
  });

  it("denies a feature key no tier unlocks", async () => {
    expect(can(await claimsOf({ tier: "mobile", status: "active" }), "time_travel")).toMatchObject({ allowed: false, reason: "unknown_feature" });
  });

  it("never lets a feature listed in features through when the status denies access", async () => {
    const sdk = sdkFor(w);
    const payload = { ...entitlementPayload("u", { tier: "mobile", status: "active" }), status: "suspended" };
    const c = await sdk.verify(await signToken(payload, w.signing, { iat: w.clock.s }));
    expect(can(c, "nationwide_search")).toMatchObject({ allowed: false, reason: "suspended" });
  });

  it("answers the same way for plain claims objects that did not come from verify", async () => {
    const c = await claimsOf({ tier: "local", status: "active" });
    const plain = JSON.parse(JSON.stringify(c));
    expect(can(plain, "nationwide_search")).toEqual(can(c, "nationwide_search"));
    expect(can(plain, "job_search")).toEqual(can(c, "job_search"));
  });

  it("returns the same frozen decision object each time (no allocation per call)", async () => {
    const c = await claimsOf({ tier: "local", status: "active" });
    expect(can(c, "job_search")).toBe(can(c, "job_search"));
    expect(Object.isFrozen(can(c, "nationwide_search"))).toBe(true);
  });
});

describe("limit", () => {
  it("returns the tier's limit, null for unlimited and 0 when not entitled", async () => {
    const sdk = sdkFor(w);
    const local = await sdk.forUser("u-local");
    const mobile = await sdk.forUser("u-mobile");
    expect(limit(local, "search_radius_miles")).toBe(50);
    expect(limit(mobile, "search_radius_miles")).toBeNull();
    expect(limit(local, "unknown_limit")).toBe(0);
    w.users.set("u-susp", { tier: "mobile", status: "suspended" });
    expect(limit(await sdk.forUser("u-susp"), "search_radius_miles")).toBe(0);
  });
});

describe("token manager", () => {
  it("fetches a user's token once and answers later checks from the cache", async () => {
    const sdk = sdkFor(w);
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: true, reason: "included" });
    for (let i = 0; i < 50; i++) await sdk.check("u-local", "nationwide_search");
    expect(w.hits.token).toBe(1);
    expect(w.hits.jwks).toBe(1);
  });

  it("single-flights 100 concurrent forUser calls into one token request", async () => {
    const sdk = sdkFor(w);
    w.delayMs = 30;
    const all = await Promise.all(Array.from({ length: 100 }, () => sdk.forUser("u-mobile")));
    expect(w.hits.token).toBe(1);
    expect(new Set(all).size).toBe(1);
  });

  it("refreshes ahead of expiry in the background while answering from the cached token", async () => {
    const sdk = sdkFor(w, { refreshBefore: 60 });
    const first = await sdk.forUser("u-local");
    w.clock.advance(300 - 60 - 1); // just before the refresh window
    expect(await sdk.forUser("u-local")).toBe(first);
    expect(w.hits.token).toBe(1);
    w.clock.advance(2); // inside the window: answered from cache, refresh started
    expect(await sdk.forUser("u-local")).toBe(first);
    await expect.poll(() => w.hits.token).toBe(2);
    await expect.poll(async () => (await sdk.forUser("u-local")) !== first).toBe(true);
    expect((await sdk.forUser("u-local")).exp).toBeGreaterThan(first.exp);
    expect(w.hits.token).toBe(2);
  });

  it("makes a tier change visible after the next refresh", async () => {
    const sdk = sdkFor(w, { refreshBefore: 60 });
    w.users.set("u-up", { tier: "local", status: "active" });
    expect((await sdk.check("u-up", "nationwide_search")).allowed).toBe(false);
    w.users.set("u-up", { tier: "mobile", status: "active" }); // the user upgraded
    w.clock.advance(250);
    await sdk.forUser("u-up"); // triggers the refresh
    await expect.poll(() => sdk.check("u-up", "nationwide_search")).toMatchObject({ allowed: true, reason: "included" });
  });

  it("fetches a fresh token at once after invalidate(userId)", async () => {
    const sdk = sdkFor(w);
    w.users.set("u-up", { tier: "local", status: "active" });
    expect((await sdk.check("u-up", "nationwide_search")).allowed).toBe(false);
    w.users.set("u-up", { tier: "mobile", status: "active" });
    sdk.invalidate("u-up");
    expect((await sdk.check("u-up", "nationwide_search")).allowed).toBe(true);
    expect(w.hits.token).toBe(2);
  });

  it("caches tokens per user", async () => {
    const sdk = sdkFor(w);
    const [a, b] = await Promise.all([sdk.forUser("u-local"), sdk.forUser("u-mobile")]);
    expect([a.sub, b.sub]).toEqual(["u-local", "u-mobile"]);
    expect(w.hits.token).toBe(2);
  });
});

describe("key rotation", () => {
  it("keeps verifying tokens signed before the rotation until they expire", async () => {
    const sdk = sdkFor(w);
    const before = await w.sign("u-local");
    await sdk.verify(before);
    await w.rotate("key-2026-02");
    w.clock.advance(120);
    const after = await w.sign("u-local");
    await expect(sdk.verify(after)).resolves.toMatchObject({ sub: "u-local" });
    await expect(sdk.verify(before)).resolves.toMatchObject({ sub: "u-local" });
    w.clock.advance(300);
    await expect(sdk.verify(before)).rejects.toMatchObject({ code: "ERR_TOKEN_EXPIRED" });
  });

  it("fetches the JWKS once under 1,000 concurrent verifications of a new kid", async () => {
    const sdk = sdkFor(w);
    await sdk.verify(await w.sign("u-local"));
    expect(w.hits.jwks).toBe(1);
    await w.rotate("key-2026-02");
    w.clock.advance(31); // past the JWKS cooldown
    const token = await w.sign("u-mobile");
    const results = await Promise.all(Array.from({ length: 1000 }, () => sdk.verify(token)));
    expect(results.every((c) => c.sub === "u-mobile")).toBe(true);
    expect(w.hits.jwks).toBe(2);
  });
});
