import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { pages, routes } from "../../worker/src/routes";
import { BASE, call, count, freshIp, makeKey } from "./helpers";

type Problem = { type: string; title: string; status: number; detail: string; instance: string; errors?: { field: string; message: string }[] };

async function expectProblem(res: Response, status: number, type: RegExp): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const p = await res.json<Problem>();
  expect(p.status).toBe(status);
  expect(p.type).toMatch(type);
  expect(p.detail.length).toBeGreaterThan(10);
  expect(p.instance).toMatch(/^\//);
  return p;
}

describe("bad input never writes", () => {
  it("rejects malformed JSON", async () => {
    const { key } = await makeKey("admin");
    const keys = await count("api_keys");
    const res = await call("POST", "/v1/keys", { key, rawBody: '{"name": "x", role:', headers: { "content-type": "application/json" } });
    await expectProblem(res, 400, /malformed-json$/);
    expect(await count("api_keys")).toBe(keys);
  });

  it("rejects a wrong content type with 415 naming the header", async () => {
    const { key } = await makeKey("admin");
    const keys = await count("api_keys");
    const res = await call("POST", "/v1/keys", { key, rawBody: "name=x&role=admin", headers: { "content-type": "application/x-www-form-urlencoded" } });
    const p = await expectProblem(res, 415, /unsupported-media-type$/);
    expect(p.errors?.[0]?.field).toBe("header.content-type");
    expect(await count("api_keys")).toBe(keys);
  });

  it("rejects an unknown field, naming it", async () => {
    const { key } = await makeKey("admin");
    const keys = await count("api_keys");
    const res = await call("POST", "/v1/keys", { key, body: { name: "x", role: "admin", superuser: true } });
    const p = await expectProblem(res, 400, /validation-failed$/);
    expect(p.errors).toContainEqual(expect.objectContaining({ field: "body.superuser" }));
    expect(await count("api_keys")).toBe(keys);
  });

  it("rejects wrong types and values, naming each field", async () => {
    const { key } = await makeKey("admin");
    const keys = await count("api_keys");
    const res = await call("POST", "/v1/keys", { key, body: { name: 42, role: "root" } });
    const p = await expectProblem(res, 400, /validation-failed$/);
    const fields = p.errors!.map((e) => e.field);
    expect(fields).toContain("body.name");
    expect(fields).toContain("body.role");
    expect(await count("api_keys")).toBe(keys);
  });

  it("rejects a missing required field", async () => {
    const { key } = await makeKey("admin");
    const res = await call("POST", "/v1/keys", { key, body: { role: "admin" } });
    const p = await expectProblem(res, 400, /validation-failed$/);
    expect(p.errors!.map((e) => e.field)).toContain("body.name");
  });

  it("rejects a body over 64 KiB with 413", async () => {
    const { key } = await makeKey("admin");
    const keys = await count("api_keys");
    const res = await call("POST", "/v1/keys", { key, body: { name: "x".repeat(70 * 1024), role: "admin" } });
    await expectProblem(res, 413, /payload-too-large$/);
    expect(await count("api_keys")).toBe(keys);
  });

  it("rejects bad query parameters, naming them", async () => {
    const { key } = await makeKey("admin");
    const res = await call("GET", "/v1/audit?limit=100000&bogus=1", { key });
    const p = await expectProblem(res, 400, /validation-failed$/);
    const fields = p.errors!.map((e) => e.field);
    expect(fields).toContain("query.limit");
    expect(fields).toContain("query.bogus");
  });

  it("rejects a malformed path id", async () => {
    const { key } = await makeKey("admin");
    const res = await call("POST", "/v1/keys/../../etc/revoke", { key });
    expect([400, 404]).toContain(res.status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("unknown routes and methods", () => {
  it("answers an unknown path with a 404 problem", async () => {
    await expectProblem(await call("GET", "/v1/nothing-here"), 404, /not-found$/);
  });

  it("answers a wrong method with a 405 problem and Allow", async () => {
    const res = await call("DELETE", "/v1/catalog");
    await expectProblem(res, 405, /method-not-allowed$/);
    expect(res.headers.get("allow")).toContain("GET");
  });
});

describe("catalog", () => {
  it("serves tiers, prices in cents, trials, features and limits publicly", async () => {
    const res = await call("GET", "/v1/catalog");
    expect(res.status).toBe(200);
    const body = await res.json<{
      tiers: {
        key: string;
        trial_days: number;
        prices: { billing_cycle: string; unit: { amount: number; currency: string }; lookup_key: string }[];
        features: string[];
        limits: Record<string, number | null>;
      }[];
    }>();
    const local = body.tiers.find((t) => t.key === "local")!;
    const mobile = body.tiers.find((t) => t.key === "mobile")!;
    expect(local.trial_days).toBe(7);
    expect(mobile.trial_days).toBe(14);
    expect(local.prices.find((p) => p.billing_cycle === "monthly")!.unit).toEqual({ amount: 2900, currency: "usd" });
    expect(mobile.prices.find((p) => p.billing_cycle === "monthly")!.unit).toEqual({ amount: 4900, currency: "usd" });
    expect(local.features).not.toContain("nationwide_job_search");
    expect(mobile.features).toContain("nationwide_job_search");
    expect(local.limits.search_radius_miles).toBe(50);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("a write route that declares no body refuses one", () => {
  const WRITES = new Set(["post", "put", "patch", "delete"]);
  // From the app's own route lists, so a route added later is covered without editing this file.
  const noBody = [...routes.map((r) => ({ ...r.route, page: false })), ...pages.map((r) => ({ ...r.route, page: true }))].filter(
    (r) => WRITES.has(r.method) && r.request?.body === undefined && !("x-raw-body" in r),
  );

  it("finds the no-body write routes, resume and logout among them", () => {
    expect(noBody.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(["post /v1/subscriptions/{user_id}/resume", "post /dashboard/logout"]));
  });

  for (const r of noBody) {
    it(`${r.method.toUpperCase()} ${r.path}: a body, JSON or not, is a 400 naming the body; the same request without one is not`, async () => {
      const { key } = await makeKey("admin");
      const path = r.path.replace(/\{[^}]+\}/g, "no_body_test");
      const headers: Record<string, string> = r.page ? { cookie: await dashboardSession(key), origin: BASE } : { authorization: `Bearer ${key}` };
      for (const body of ["{not json", "{}"]) {
        const res = await SELF.fetch(`${BASE}${path}`, { method: r.method.toUpperCase(), headers: { ...headers, "content-type": "application/json", "cf-connecting-ip": freshIp() }, body });
        const p = await expectProblem(res, 400, /body-not-allowed$/);
        expect(p.errors?.[0]?.field).toBe("body");
      }
      const bare = await SELF.fetch(`${BASE}${path}`, { method: r.method.toUpperCase(), headers: { ...headers, "cf-connecting-ip": freshIp() }, redirect: "manual" });
      expect(bare.status === 400 && (await bare.clone().json<Problem>()).type.endsWith("body-not-allowed")).toBe(false);
    });
  }
});

/** A dashboard session cookie for the key, as the sign-in form sets it. */
async function dashboardSession(key: string): Promise<string> {
  const res = await SELF.fetch(`${BASE}/dashboard/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, "cf-connecting-ip": freshIp() },
    body: new URLSearchParams({ key }).toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-fja_dashboard="));
  expect(cookie).toBeDefined();
  return cookie!.split(";")[0]!;
}
