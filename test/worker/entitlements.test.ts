import { env } from "cloudflare:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../../worker/src/db/client";
import { loadSigningKeys } from "../../worker/src/entitlements/keys";
import { signClaims } from "../../worker/src/entitlements/sign";
import { buildClaims } from "../../worker/src/entitlements/claims";
import { noEntitlement, setEntitlementState, type EntitlementState } from "../../worker/src/entitlements/state";
import { DomainError } from "../../worker/src/errors";
import { generateSigningKey, rotate } from "../../scripts/keys";
import { call, makeKey, svc, TEST_ACTOR } from "./helpers";

let service: string;
const DAY = 86_400_000;

async function setState(userId: string, patch: Partial<EntitlementState>) {
  await setEntitlementState(svc(), { ...noEntitlement(userId), customerId: "cus_test", subscriptionId: "sub_test", ...patch }, TEST_ACTOR);
}

async function jwks(): Promise<JSONWebKeySet> {
  const res = await call("GET", "/.well-known/jwks.json");
  expect(res.status).toBe(200);
  return res.json<JSONWebKeySet>();
}

async function token(userId: string) {
  const res = await call("POST", "/v1/entitlements/token", { key: service, body: { user_id: userId } });
  expect(res.status).toBe(200);
  return res.json<{ token: string; expires_at: string }>();
}

async function check(userId: string, feature: string) {
  const res = await call("POST", "/v1/entitlements/check", { key: service, body: { user_id: userId, feature } });
  expect(res.status).toBe(200);
  return res.json<{ allowed: boolean; reason: string; upgrade?: { tier: string; price: { amount: number; currency: string }; url: string }; billing_url?: string }>();
}

beforeAll(async () => {
  service = (await makeKey("service")).key;
});

describe("JWKS", () => {
  it("publishes the current and next public keys, never a private part", async () => {
    const res = await call("GET", "/.well-known/jwks.json");
    expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const set = await res.json<JSONWebKeySet>();
    expect(set.keys).toHaveLength(2);
    for (const k of set.keys) {
      expect(k).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
      expect(k).not.toHaveProperty("d");
      // The README says so: every key of the set is published alike, with no status member.
      expect(Object.keys(k).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x"]);
    }
  });
});

describe("entitlement tokens: happy path", () => {
  it("signs an EdDSA token for a mobile subscriber that verifies against the JWKS", async () => {
    await setState("user_mobile", { tier: "mobile", status: "active", currentPeriodEnd: Date.now() + 20 * DAY });
    const { token: jwt, expires_at } = await token("user_mobile");
    const header = decodeProtectedHeader(jwt);
    expect(header.alg).toBe("EdDSA");
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(await jwks()), { issuer: "https://billing.federaljobadvisor.com", audience: "federal-job-advisor", algorithms: ["EdDSA"] });
    expect(payload).toMatchObject({ sub: "user_mobile", tier: "mobile", status: "active", limits: { search_radius_miles: null }, billing_url: "https://app.test/billing" });
    expect(payload.features).toContain("nationwide_job_search");
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(Date.parse(expires_at)).toBe(payload.exp! * 1000);
  });

  it("offers the cheapest tier that unlocks a feature to a local subscriber", async () => {
    await setState("user_local", { tier: "local", status: "active" });
    const decision = await check("user_local", "nationwide_job_search");
    expect(decision).toMatchObject({ allowed: false, reason: "not_in_tier", upgrade: { tier: "mobile", price: { amount: 4900, currency: "usd" } } });
    expect((await check("user_local", "local_job_search")).allowed).toBe(true);
    const online = await (await call("GET", "/v1/entitlements/user_local", { key: service })).json<{ limits: Record<string, number | null>; features: string[] }>();
    expect(online.limits.search_radius_miles).toBe(50);
    expect(online.features).not.toContain("nationwide_job_search");
  });

  it("keeps a past-due user in, with a warning, and shuts a suspended one out with the billing link", async () => {
    await setState("user_late", { tier: "local", status: "past_due", graceUntil: Date.now() + 10 * DAY });
    expect(await check("user_late", "local_job_search")).toMatchObject({ allowed: true, reason: "payment_past_due" });
    await setState("user_late", { tier: "local", status: "suspended", suspendedAt: Date.now() });
    expect(await check("user_late", "local_job_search")).toMatchObject({ allowed: false, reason: "suspended", billing_url: "https://app.test/billing" });
  });

  it("suspends a past-due user whose grace date has passed, even before dunning runs", async () => {
    await setState("user_overdue", { tier: "mobile", status: "past_due", graceUntil: Date.now() - 1000 });
    expect(await check("user_overdue", "local_job_search")).toMatchObject({ allowed: false, reason: "suspended", billing_url: "https://app.test/billing" });
    const online = await (await call("GET", "/v1/entitlements/user_overdue", { key: service })).json<{ status: string; features: string[] }>();
    expect(online).toMatchObject({ status: "suspended", features: [] });
  });

  it("issues a no-subscription token to an unknown user, granting nothing", async () => {
    const { token: jwt } = await token("user_stranger");
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(await jwks()));
    expect(payload).toMatchObject({ status: "none", tier: null, features: [] });
    expect(await check("user_stranger", "local_job_search")).toMatchObject({ allowed: false, reason: "no_subscription", upgrade: { tier: "local" } });
  });

  it("audits every entitlement change", async () => {
    await setState("user_audited", { tier: "local", status: "trialing" });
    const admin = (await makeKey("admin")).key;
    const log = await (await call("GET", "/v1/audit?subject_type=user&subject_id=user_audited", { key: admin })).json<{ data: { after: { status: string } }[] }>();
    expect(log.data[0]!.after.status).toBe("trialing");
  });
});

describe("key rotation", () => {
  it("verifies tokens signed before a rotation against the JWKS published after it", async () => {
    const before = { keys: [await generateSigningKey("current")] };
    const step1 = await rotate(before); // adds a next key
    const step2 = await rotate(step1); // next -> current, current -> retired
    const config = { issuer: "iss", audience: "aud", ttlSeconds: 600, appBaseUrl: "https://app.test" };
    const claims = buildClaims({ ...noEntitlement("u"), tier: "local", status: "active" }, config, Date.now());
    const oldToken = await signClaims(claims, await loadSigningKeys(JSON.stringify(before)));
    const newKeys = await loadSigningKeys(JSON.stringify(step2));
    const newToken = await signClaims(claims, newKeys);
    expect(decodeProtectedHeader(newToken).kid).not.toBe(decodeProtectedHeader(oldToken).kid);
    const published = createLocalJWKSet(newKeys.jwks);
    await expect(jwtVerify(oldToken, published)).resolves.toBeTruthy();
    await expect(jwtVerify(newToken, published)).resolves.toBeTruthy();
    // Step 1 already published the key that step 2 signs with.
    await expect(jwtVerify(newToken, createLocalJWKSet((await loadSigningKeys(JSON.stringify(step1))).jwks))).resolves.toBeTruthy();
  });
});

describe("entitlement tokens: errors", () => {
  it("rejects a malformed user id, naming the field", async () => {
    const res = await call("POST", "/v1/entitlements/token", { key: service, body: { user_id: "../../etc/passwd" } });
    expect(res.status).toBe(400);
    expect((await res.json<{ errors: { field: string }[] }>()).errors[0]!.field).toBe("body.user_id");
  });

  it("names the broken part of a bad signing key set", async () => {
    const err = await loadSigningKeys(JSON.stringify({ keys: [{ ...(await generateSigningKey("next")) }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("config_invalid");
    expect((err as DomainError).message).toMatch(/exactly one key must have status current/);
    const notJson = await loadSigningKeys("{nope").catch((e: unknown) => e);
    expect((notJson as DomainError).code).toBe("config_invalid");
  });
});
