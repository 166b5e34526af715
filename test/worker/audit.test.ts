import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";

type Verify = { ok: boolean; rows_checked: number; first_broken: { seq: number; reason: string } | null };

let admin: { key: string; id: string };

beforeAll(async () => {
  admin = await makeKey("admin");
  // A few audited changes through the API, so the chain has real rows.
  for (const role of ["analyst", "service", "analyst"]) {
    const res = await call("POST", "/v1/keys", { key: admin.key, body: { name: `audit-${role}`, role } });
    expect(res.status).toBe(201);
  }
});

async function verify(): Promise<Verify> {
  const res = await call("GET", "/v1/audit/verify", { key: admin.key });
  expect(res.status).toBe(200);
  return res.json<Verify>();
}

describe("audit log", () => {
  it("verifies an untouched log", async () => {
    const result = await verify();
    expect(result.ok).toBe(true);
    expect(result.first_broken).toBeNull();
    expect(result.rows_checked).toBeGreaterThanOrEqual(4);
  });

  it("lists newest first with a cursor and filters", async () => {
    const first = await (await call("GET", "/v1/audit?limit=2", { key: admin.key })).json<{ data: { seq: number }[]; has_more: boolean; next_before: number }>();
    expect(first.data).toHaveLength(2);
    expect(first.data[0]!.seq).toBeGreaterThan(first.data[1]!.seq);
    expect(first.has_more).toBe(true);
    const second = await (await call("GET", `/v1/audit?limit=2&before=${first.next_before}`, { key: admin.key })).json<{ data: { seq: number }[] }>();
    expect(second.data[0]!.seq).toBeLessThan(first.data[1]!.seq);
    const filtered = await (await call("GET", "/v1/audit?action=api_key.created&actor_id=" + admin.id, { key: admin.key })).json<{ data: { action: string }[] }>();
    expect(filtered.data.length).toBe(3);
    expect(filtered.data.every((r) => r.action === "api_key.created")).toBe(true);
  });

  it("keeps one unbroken chain when many changes race", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call("POST", "/v1/keys", { key: admin.key, body: { name: `race-${i}`, role: "analyst" } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
    const result = await verify();
    expect(result.ok).toBe(true);
    const created = await env.DB.prepare("select count(*) as n from audit_log where action = 'api_key.created' and after like '%race-%'").first<{ n: number }>();
    expect(created!.n).toBe(12);
  });

  it("names the row whose content was changed directly in D1", async () => {
    const target = await env.DB.prepare("select seq from audit_log order by seq limit 1 offset 2").first<{ seq: number }>();
    await env.DB.prepare("update audit_log set after = ? where seq = ?").bind('{"role":"admin"}', target!.seq).run();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toEqual({ seq: target!.seq, reason: "hash_mismatch" });
  });

  it("names the gap when a row was deleted, even with its hash recomputed downstream", async () => {
    const rows = await env.DB.prepare("select seq from audit_log order by seq").all<{ seq: number }>();
    const victim = rows.results[1]!.seq;
    await env.DB.prepare("delete from audit_log where seq = ?").bind(victim).run();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken?.seq).toBeLessThanOrEqual(victim);
  });
});
