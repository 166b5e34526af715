import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { KEYLESS, PERMISSIONS, type Permission } from "../../worker/src/auth/permissions";
import { revokeApiKey } from "../../worker/src/auth/api-keys";
import { ROLES, type Role } from "../../worker/src/db/schema";
import { routes } from "../../worker/src/routes";
import { TOOLS } from "../../worker/src/tools/registry";
import { call, makeKey, svc, TEST_ACTOR } from "./helpers";

/** Every registered route, as its own file declares it. */
const SPECS = routes.map(({ route }) => ({ method: route.method, path: route.path, permission: route["x-permission"] }));
type Spec = (typeof SPECS)[number];

type KeyCase = { label: string; header?: string; role?: Role };

let keyCases: KeyCase[] = [];

beforeAll(async () => {
  const byRole = await Promise.all(ROLES.map(async (role) => ({ label: role, role, header: `Bearer ${(await makeKey(role)).key}` })));
  const revoked = await makeKey("admin", { name: "revoked" });
  await revokeApiKey(svc(), TEST_ACTOR, revoked.id);
  const expiring = await makeKey("admin", { name: "expiring", expiresAt: Date.now() + 50 });
  await new Promise((r) => setTimeout(r, 60));
  keyCases = [
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
const BODIES: Record<string, unknown> = {
  "POST /v1/keys": { name: "matrix", role: "analyst" },
  "POST /v1/keys/{id}/rotate": {},
  "POST /v1/events/replay": { from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" },
  "POST /v1/entitlements/token": { user_id: "user_matrix" },
  "POST /v1/entitlements/check": { user_id: "user_matrix", feature: "local_job_search" },
  "POST /v1/checkout": { user_id: "user_matrix", email: "matrix@example.test", tier: "local" },
  "POST /v1/portal": { user_id: "user_matrix" },
  "POST /mcp": { jsonrpc: "2.0", id: 1, method: "tools/list" },
};
function requestFor(spec: Spec): { path: string; body?: unknown } {
  const path = spec.path
    .replace("{id}", spec.path.startsWith("/v1/events") ? "evt_matrix" : "key_AAAAAAAAAAAAAAAA")
    .replace("{user_id}", "user_matrix")
    .replace("{org_id}", "org_matrix")
    .replace("{invoice_id}", "in_matrix")
    .replace("{code}", "MATRIX");
  const body = BODIES[`${spec.method.toUpperCase()} ${spec.path}`];
  return body === undefined ? { path } : { path, body };
}

function expected(permission: Permission, keyCase: KeyCase): "allowed" | 401 | 403 {
  if (KEYLESS.has(permission)) return "allowed";
  if (!keyCase.role) return 401;
  return (PERMISSIONS[permission] as readonly Role[]).includes(keyCase.role) ? "allowed" : 403;
}

describe("permission table", () => {
  it("gives every route a permission the table defines", () => {
    expect(SPECS.length).toBeGreaterThan(10);
    for (const spec of SPECS) expect(PERMISSIONS, `${spec.method} ${spec.path}`).toHaveProperty(spec.permission);
  });

  it("serves every agent tool as a route that needs the tool's own permission, so an analyst holds only the reading ones", () => {
    for (const tool of TOOLS) expect(SPECS.find((s) => s.method === "post" && s.path === `/v1/tools/${tool.name}`)?.permission, tool.name).toBe(tool.permission);
    const analyst = TOOLS.filter((t) => (PERMISSIONS[t.permission] as readonly Role[]).includes("analyst"));
    expect(analyst.map((t) => t.name).sort()).toEqual(["generate_revenue_report"]);
    expect(analyst.every((t) => t.access === "read")).toBe(true);
    expect(PERMISSIONS[TOOLS.find((t) => t.name === "process_webhook")!.permission]).toEqual(["admin"]);
  });

  it("documents every route in /openapi.json with its permission, and nothing else", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ paths: Record<string, Record<string, { "x-permission"?: string }>> }>();
    for (const spec of SPECS) expect(doc.paths[spec.path]?.[spec.method]?.["x-permission"], `${spec.method} ${spec.path}`).toBe(spec.permission);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual(SPECS.map((s) => `${s.method} ${s.path}`).sort());
  });

  for (const spec of SPECS) {
    it(`${spec.method.toUpperCase()} ${spec.path} (${spec.permission}) admits exactly the roles the table names`, async () => {
      for (const keyCase of keyCases) {
        const { path, body } = requestFor(spec);
        const res = await call(spec.method.toUpperCase(), path, { body, headers: keyCase.header ? { authorization: keyCase.header } : {} });
        const want = expected(spec.permission, keyCase);
        if (want === "allowed") {
          expect([401, 403], `${keyCase.label} on ${spec.method} ${spec.path}`).not.toContain(res.status);
        } else {
          expect(res.status, `${keyCase.label} on ${spec.method} ${spec.path}`).toBe(want);
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
