/**
 * The dashboard's sign-in, session and headers, through the app in workerd (app.request with a
 * fixed clock, so expiry is tested at its exact edge) and its static files through the ASSETS
 * binding that wrangler.toml declares.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { revokeApiKey } from "../../worker/src/auth/api-keys";
import { hashKey } from "../../worker/src/auth/keys";
import { SESSION_TTL_MS, SIGN_IN_REFUSED } from "../../worker/src/auth/session";
import { fixedClock } from "../../worker/src/clock";
import { BASE, freshIp, makeKey, svc, TEST_ACTOR } from "./helpers";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const COOKIE = "__Host-fja_dashboard";
/** A day ahead of the real clock, so keys made now (by the system clock) may expire after it. */
const T0 = Math.floor(Date.now() / 1000) * 1000 + 86_400_000;

const at = (ms: number) => createApp(fixedClock(ms));

function request(ms: number, method: string, path: string, init: { cookie?: string; form?: Record<string, string>; origin?: string | null } = {}) {
  const headers: Record<string, string> = { "cf-connecting-ip": freshIp() };
  if (init.cookie) headers.cookie = `${COOKIE}=${init.cookie}`;
  let body: string | undefined;
  if (init.form) {
    body = new URLSearchParams(init.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  if (method === "POST" && init.origin !== null) headers.origin = init.origin ?? BASE;
  return at(ms).request(`${BASE}${path}`, { method, headers, ...(body === undefined ? {} : { body }) }, env);
}

/** The session cookie a response sets: its value and attributes, as a browser reads them. */
function sessionCookie(res: Response): { value: string; attrs: Map<string, string> } | undefined {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
  if (!line) return undefined;
  const [pair, ...attrs] = line.split(/;\s*/);
  return {
    value: pair!.slice(COOKIE.length + 1),
    attrs: new Map(
      attrs.map((a) => {
        const [k, v = ""] = a.split("=");
        return [k!.toLowerCase(), v];
      }),
    ),
  };
}

async function signIn(key: string, ms = T0): Promise<string> {
  const res = await request(ms, "POST", "/dashboard/login", { form: { key } });
  expect(res.status).toBe(303);
  const cookie = sessionCookie(res);
  expect(cookie).toBeDefined();
  return cookie!.value;
}

const sessionRows = async () =>
  (
    await env.DB.prepare("select id, token_hash, key_id, created_at, expires_at from dashboard_sessions").all<{
      id: string;
      token_hash: string;
      key_id: string;
      created_at: number;
      expires_at: number;
    }>()
  ).results;

let analyst: { key: string; id: string };
let admin: { key: string; id: string };
let service: { key: string; id: string };

beforeAll(async () => {
  analyst = await makeKey("analyst", { name: "dashboard-analyst" });
  admin = await makeKey("admin", { name: "dashboard-admin" });
  service = await makeKey("service", { name: "dashboard-service" });
});

describe("dashboard sign-in", () => {
  it("trades an analyst key for an HttpOnly, Secure, SameSite=Strict cookie with a Max-Age, and keeps only the token's hash", async () => {
    const res = await request(T0, "POST", "/dashboard/login", { form: { key: analyst.key } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
    const cookie = sessionCookie(res)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie.attrs.has("httponly")).toBe(true);
    expect(cookie.attrs.has("secure")).toBe(true);
    expect(cookie.attrs.get("samesite")).toBe("Strict");
    expect(cookie.attrs.get("path")).toBe("/");
    expect(cookie.attrs.has("domain")).toBe(false);
    expect(Number(cookie.attrs.get("max-age"))).toBe(SESSION_TTL_MS / 1000);

    const hash = await hashKey(cookie.value);
    const row = (await sessionRows()).find((r) => r.token_hash === hash);
    expect(row).toMatchObject({ key_id: analyst.id, created_at: T0, expires_at: T0 + SESSION_TTL_MS });
    const dump = JSON.stringify(await env.DB.prepare("select * from dashboard_sessions").all());
    expect(dump).not.toContain(cookie.value);
    expect(dump).not.toContain(analyst.key);
  });

  it("opens the dashboard for an admin key too", async () => {
    const token = await signIn(admin.key);
    const res = await request(T0 + 1000, "GET", "/dashboard", { cookie: token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    await expect(res.text()).resolves.toContain("dashboard-admin (admin)");
  });

  it("refuses a service key, an unknown key, a malformed key, a revoked analyst key and an empty form with the same answer, and opens no session", async () => {
    const revoked = await makeKey("analyst", { name: "revoked-analyst" });
    await revokeApiKey(svc(), TEST_ACTOR, revoked.id);
    const before = (await sessionRows()).length;
    const answers = [];
    for (const key of [service.key, "fja_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-key", revoked.key, ""]) {
      const res = await request(T0, "POST", "/dashboard/login", { form: { key } });
      answers.push({ status: res.status, cookie: sessionCookie(res), body: await res.text() });
    }
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([401]));
    expect(answers.every((a) => a.cookie === undefined)).toBe(true);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect([...answers[0]!.body.matchAll(/<p class="refused" role="alert">([^<]*)<\/p>/g)].map((m) => m[1])).toEqual([SIGN_IN_REFUSED]);
    expect((await sessionRows()).length).toBe(before);
  });

  it("refuses a sign-in form posted from another site", async () => {
    const before = (await sessionRows()).length;
    const res = await request(T0, "POST", "/dashboard/login", { form: { key: analyst.key }, origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(sessionCookie(res)).toBeUndefined();
    expect((await sessionRows()).length).toBe(before);
  });

  it("sends a visitor without a session to the sign-in form", async () => {
    for (const cookie of [undefined, "x".repeat(43), "short"]) {
      const res = await request(T0, "GET", "/dashboard", { ...(cookie ? { cookie } : {}) });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/dashboard/login");
    }
  });

  it("sends a signed-in visitor of the sign-in form on to the dashboard", async () => {
    const token = await signIn(analyst.key);
    const res = await request(T0, "GET", "/dashboard/login", { cookie: token });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
  });
});

describe("dashboard session", () => {
  it("expires on the server at its expiry, whatever the browser keeps, and clears the cookie", async () => {
    const token = await signIn(analyst.key, T0);
    expect((await request(T0 + SESSION_TTL_MS - 1, "GET", "/dashboard", { cookie: token })).status).toBe(200);
    const late = await request(T0 + SESSION_TTL_MS, "GET", "/dashboard", { cookie: token });
    expect(late.status).toBe(303);
    expect(late.headers.get("location")).toBe("/dashboard/login");
    expect(sessionCookie(late)?.attrs.get("max-age")).toBe("0");
  });

  it("never outlives its key: a key expiring sooner cuts the session short, a revoked key ends it", async () => {
    const short = await makeKey("analyst", { name: "short-lived", expiresAt: T0 + 60_000 });
    const token = await signIn(short.key, T0);
    const hash = await hashKey(token);
    const row = (await sessionRows()).find((r) => r.token_hash === hash);
    expect(row?.expires_at).toBe(T0 + 60_000);
    expect((await request(T0 + 59_999, "GET", "/dashboard", { cookie: token })).status).toBe(200);
    expect((await request(T0 + 60_000, "GET", "/dashboard", { cookie: token })).status).toBe(303);

    const doomed = await makeKey("analyst", { name: "doomed" });
    const other = await signIn(doomed.key, T0);
    expect((await request(T0 + 1, "GET", "/dashboard", { cookie: other })).status).toBe(200);
    await revokeApiKey(svc(), TEST_ACTOR, doomed.id);
    expect((await request(T0 + 2, "GET", "/dashboard", { cookie: other })).status).toBe(303);
  });

  it("signs out: the session row is deleted, the cookie cleared, and the old token opens nothing", async () => {
    const token = await signIn(analyst.key, T0);
    const hash = await hashKey(token);
    expect((await sessionRows()).some((r) => r.token_hash === hash)).toBe(true);
    const out = await request(T0 + 1, "POST", "/dashboard/logout", { cookie: token });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/dashboard/login");
    expect(sessionCookie(out)?.attrs.get("max-age")).toBe("0");
    expect((await sessionRows()).some((r) => r.token_hash === hash)).toBe(false);
    expect((await request(T0 + 2, "GET", "/dashboard", { cookie: token })).status).toBe(303);
    const audit = await env.DB.prepare("select action from audit_log where actor_id = ? and action like 'dashboard.%' order by seq").bind(analyst.id).all<{ action: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(expect.arrayContaining(["dashboard.signed_in", "dashboard.signed_out"]));
  });

  it("ignores a sign-out posted from another site", async () => {
    const token = await signIn(analyst.key, T0);
    const res = await request(T0 + 1, "POST", "/dashboard/logout", { cookie: token, origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect((await request(T0 + 2, "GET", "/dashboard", { cookie: token })).status).toBe(200);
  });

  /** A cross-site post: a form's encodings, a no-cors fetch of a Blob (no Content-Type), and any other type. */
  const crossSite = (key: string): [string, () => { body: BodyInit; headers: Record<string, string> }][] => [
    ["text/plain", () => ({ body: `key=${key}`, headers: { "content-type": "text/plain" } })],
    [
      "multipart",
      () => {
        const f = new FormData();
        f.set("key", key);
        return { body: f, headers: {} };
      },
    ],
    ["no content type", () => ({ body: new Blob([`key=${key}`]), headers: {} })],
    // Not a form's: the check must not depend on the type at all.
    ["application/json", () => ({ body: JSON.stringify({ key }), headers: { "content-type": "application/json" } })],
    ["application/octet-stream", () => ({ body: `key=${key}`, headers: { "content-type": "application/octet-stream" } })],
  ];
  const postAs = (ms: number, path: string, body: BodyInit, headers: Record<string, string>) =>
    at(ms).request(`${BASE}${path}`, { method: "POST", headers: { "cf-connecting-ip": freshIp(), ...headers }, body }, env);

  it("refuses a sign-in posted from another site whatever its content type, and without Origin from a cross-site fetch", async () => {
    const before = (await sessionRows()).length;
    for (const [what, make] of crossSite(analyst.key)) {
      const { body, headers } = make();
      const res = await postAs(T0, "/dashboard/login", body, { ...headers, origin: "https://evil.example" });
      expect(res.status, what).toBe(403);
      expect(res.headers.get("content-type"), what).toBe("application/problem+json");
      expect(sessionCookie(res), what).toBeUndefined();
      const { body: again, headers: h } = make();
      expect((await postAs(T0, "/dashboard/login", again, { ...h, "sec-fetch-site": "cross-site" })).status, `${what}, no Origin`).toBe(403);
    }
    expect((await sessionRows()).length).toBe(before);
  });

  it("ignores a sign-out posted from another site whatever its content type", async () => {
    const token = await signIn(analyst.key, T0);
    // Sign-out takes no body: each post carries only the type a cross-site page could give it.
    for (const type of ["text/plain", "multipart/form-data; boundary=x", undefined, "application/json", "application/octet-stream"]) {
      const res = await postAs(T0 + 1, "/dashboard/logout", "", { ...(type ? { "content-type": type } : {}), cookie: `${COOKIE}=${token}`, origin: "https://evil.example" });
      expect(res.status, type ?? "no content type").toBe(403);
      expect((await request(T0 + 2, "GET", "/dashboard", { cookie: token })).status, type ?? "no content type").toBe(200);
    }
  });

  it("clears expired sessions when someone signs in", async () => {
    await signIn(analyst.key, T0);
    const later = T0 + SESSION_TTL_MS + 1;
    await signIn(analyst.key, later);
    expect((await sessionRows()).filter((r) => r.expires_at <= later)).toEqual([]);
  });
});

describe("dashboard pages", () => {
  it("carry a strict CSP and the other security headers, and no inline script or style", async () => {
    const token = await signIn(analyst.key, T0);
    for (const [path, cookie] of [
      ["/dashboard/login", undefined],
      ["/dashboard", token],
    ] as const) {
      const res = await request(T0 + 1, "GET", path, { ...(cookie ? { cookie } : {}) });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-security-policy"), path).toBe(CSP);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("x-frame-options")).toMatch(/^(DENY|SAMEORIGIN)$/);
      expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
      expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const html = await res.text();
      expect(html.startsWith("<!doctype html>")).toBe(true);
      for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag, path).toMatch(/\bsrc="\/dashboard\/static\/|type="application\/json"/);
      expect(html).not.toMatch(/<style\b|\sstyle="|\son[a-z]+="/i);
    }
  });

  it("are left out of the OpenAPI document", async () => {
    const doc = await (await SELF.fetch(`${BASE}/openapi.json`, { headers: { "cf-connecting-ip": freshIp() } })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/dashboard"))).toEqual([]);
  });

  it("load only static files that the assets binding serves, with the right types", async () => {
    const token = await signIn(analyst.key, T0);
    const html = await (await request(T0 + 1, "GET", "/dashboard", { cookie: token })).text();
    const urls = [...html.matchAll(/(?:src|href)="(\/dashboard\/static\/[^"]+)"/g)].map((m) => m[1]!);
    expect(urls).toEqual(
      expect.arrayContaining(["/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css", "/dashboard/static/vendor/uPlot.iife.min.js", "/dashboard/static/vendor/uPlot.min.css"]),
    );
    const assets = (env as unknown as { ASSETS: Fetcher }).ASSETS;
    for (const url of urls) {
      const res = await assets.fetch(`${BASE}${url}`);
      expect(res.status, url).toBe(200);
      expect(res.headers.get("content-type"), url).toMatch(url.endsWith(".js") ? /javascript/ : /text\/css/);
      expect((await res.text()).length, url).toBeGreaterThan(100);
    }
  });
});
