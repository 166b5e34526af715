import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { KEYLESS, PERMISSIONS, ROUTES, type Permission } from "../../worker/src/auth/permissions";
import { revokeApiKey } from "../../worker/src/auth/api-keys";
import { getDb } from "../../worker/src/db/client";
import { ROLES, type Role } from "../../worker/src/db/schema";
import { call, makeKey } from "./helpers";

type Caller = { label: string; header?: string; role?: Role };

let callers: Caller[] = [];

beforeAll(async () => {
  const byRole = await Promise.all(ROLES.map(async (role) => ({ label: role, role, header: `Bearer ${(await makeKey(role)).key}` })));
  const revoked = await makeKey("admin", { name: "revoked" });
  await revokeApiKey({ db: getDb(env.DB), now: Date.now(), actor: { type: "system", id: "test" } }, revoked.id);
  const expiring = await makeKey("admin", { name: "expiring", expiresAt: Date.now() + 50 });
  await new Promise((r) => setTimeout(r, 60));
  callers = [
    ...byRole,
    { label: "no key" },
    { label: "revoked admin key", header: `Bearer ${revoked.key}` },
    { label: "expired admin key", header: `Bearer ${expiring.key}` },
    { label: "unknown key", header: "Bearer fja_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
    { label: "malformed header (Basic)", header: "Basic dXNlcjpwYXNz" },
    { label: "malformed key", header: "Bearer not-a-key" },
    { label: "bearer without key", header: "Bearer " },
  ];
});

/** A concrete request for each route: a path with ids filled in and a body that would validate. */
function requestFor(name: keyof typeof ROUTES): { path: string; body?: unknown } {
  const path = ROUTES[name].path.replace("{id}", name.startsWith("events") ? "evt_matrix" : "key_AAAAAAAAAAAAAAAA").replace("{user_id}", "user_matrix");
  if (name === "keysCreate") return { path, body: { name: "matrix", role: "analyst" } };
  if (name === "keysRotate") return { path, body: {} };
  if (name === "eventsReplayRange") return { path, body: { from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" } };
  if (name === "eventsReplay") return { path: path.replace("{id}", "evt_matrix") };
  if (name === "entitlementsToken") return { path, body: { user_id: "user_matrix" } };
  if (name === "entitlementsCheck") return { path, body: { user_id: "user_matrix", feature: "local_job_search" } };
  return { path };
}

function expected(permission: Permission, caller: Caller): "allowed" | 401 | 403 {
  if (KEYLESS.has(permission)) return "allowed";
  if (!caller.role) return 401;
  return (PERMISSIONS[permission] as readonly Role[]).includes(caller.role) ? "allowed" : 403;
}

describe("permission table", () => {
  it("gives every route a permission the table defines", () => {
    for (const [name, spec] of Object.entries(ROUTES)) expect(PERMISSIONS, name).toHaveProperty(spec.permission);
  });

  it("documents every route of the table in /openapi.json with its permission", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ paths: Record<string, Record<string, { "x-permission"?: string }>> }>();
    for (const [name, spec] of Object.entries(ROUTES)) {
      if (name === "openapi") continue;
      expect(doc.paths[spec.path]?.[spec.method]?.["x-permission"], name).toBe(spec.permission);
    }
  });

  for (const [name, spec] of Object.entries(ROUTES) as [keyof typeof ROUTES, (typeof ROUTES)[keyof typeof ROUTES]][]) {
    it(`${spec.method.toUpperCase()} ${spec.path} (${spec.permission}) admits exactly the roles the table names`, async () => {
      for (const caller of callers) {
        const { path, body } = requestFor(name);
        const res = await call(spec.method.toUpperCase(), path, { body, headers: caller.header ? { authorization: caller.header } : {} });
        const want = expected(spec.permission, caller);
        if (want === "allowed") {
          expect([401, 403], `${caller.label} on ${name}`).not.toContain(res.status);
        } else {
          expect(res.status, `${caller.label} on ${name}`).toBe(want);
          expect(res.headers.get("content-type")).toBe("application/problem+json");
          const problem = await res.json<{ type: string; status: number }>();
          expect(problem.status).toBe(want);
          expect(problem.type).toMatch(want === 401 ? /unauthenticated$/ : /forbidden$/);
          if (want === 401) expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
        }
      }
    });
  }
});
