import { describe, expect, it } from "vitest";
import { call, count, makeKey } from "./helpers";

type Created = { key: string; api_key: { id: string; prefix: string; role: string; status: string; expires_at: string | null } };

describe("API keys: happy path", () => {
  it("creates a key that is shown once, stored hashed, and works at once", async () => {
    const admin = await makeKey("admin");
    const res = await call("POST", "/v1/keys", { key: admin.key, body: { name: "reporting", role: "analyst" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = await res.json<Created>();
    expect(created.key).toMatch(/^fja_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.api_key.prefix)).toBe(true);

    const list = await (await call("GET", "/v1/keys", { key: admin.key })).json<{ data: Record<string, unknown>[] }>();
    const listed = list.data.find((k) => k.id === created.api_key.id);
    expect(listed).toMatchObject({ role: "analyst", status: "active" });
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(JSON.stringify(list)).not.toMatch(/"hash"/);

    const verify = await call("GET", "/v1/audit/verify", { key: created.key });
    expect(verify.status).toBe(200);
  });

  it("rotates a key: the new key works now, the old one until the chosen expiry", async () => {
    const admin = await makeKey("admin");
    const svc = await makeKey("analyst", { name: "to-rotate" });
    // Long enough that a loaded machine still calls with the old key before it expires.
    const until = new Date(Date.now() + 2000).toISOString();
    const res = await call("POST", `/v1/keys/${svc.id}/rotate`, { key: admin.key, body: { old_key_expires_at: until } });
    expect(res.status).toBe(201);
    const rotated = await res.json<Created & { previous: { id: string; expires_at: string } }>();
    expect(rotated.previous.id).toBe(svc.id);
    expect(rotated.previous.expires_at).toBe(until);
    expect((await call("GET", "/v1/audit", { key: svc.key })).status).toBe(200);
    expect((await call("GET", "/v1/audit", { key: rotated.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(until) - Date.now()) + 50));
    expect((await call("GET", "/v1/audit", { key: svc.key })).status).toBe(401);
    expect((await call("GET", "/v1/audit", { key: rotated.key })).status).toBe(200);
  });

  it("revokes a key at once and records who did it", async () => {
    const admin = await makeKey("admin");
    const victim = await makeKey("service", { name: "to-revoke" });
    const res = await call("POST", `/v1/keys/${victim.id}/revoke`, { key: admin.key });
    expect(res.status).toBe(200);
    expect((await res.json<{ status: string }>()).status).toBe("revoked");
    const denied = await call("GET", "/v1/keys", { key: victim.key });
    expect(denied.status).toBe(401);
    const log = await (await call("GET", `/v1/audit?subject_id=${victim.id}&action=api_key.revoked`, { key: admin.key })).json<{ data: { actor: { id: string } }[] }>();
    expect(log.data).toHaveLength(1);
    expect(log.data[0]!.actor.id).toBe(admin.id);
  });
});

describe("API keys: errors", () => {
  it("rejects a rotation of an unknown key with 404 and writes nothing", async () => {
    const admin = await makeKey("admin");
    const before = await count("audit_log");
    const res = await call("POST", "/v1/keys/key_AAAAAAAAAAAAAAAA/rotate", { key: admin.key, body: {} });
    expect(res.status).toBe(404);
    expect(await count("audit_log")).toBe(before);
  });

  it("rejects an expiry in the past, naming the field", async () => {
    const admin = await makeKey("admin");
    const res = await call("POST", "/v1/keys", { key: admin.key, body: { name: "x", role: "admin", expires_at: "2001-01-01T00:00:00Z" } });
    expect(res.status).toBe(400);
    const problem = await res.json<{ errors: { field: string }[] }>();
    expect(problem.errors[0]!.field).toBe("body.expires_at");
  });
});
