import { env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GENESIS_HASH, rowHash, type ChainedRow } from "../../worker/src/audit/chain";
import { CRONS, runCron } from "../../worker/src/cron";
import { auditLog } from "../../worker/src/db/schema";
import { call, makeKey, svc, TEST_CALLER } from "./helpers";

type Verify = { ok: boolean; rows_checked: number; head: { seq: number; hash: string } | null; first_broken: { seq: number; reason: string } | null };

let admin: { key: string; id: string };

beforeAll(async () => {
  admin = await makeKey("admin");
  // A few audited changes through the API, so the chain has real rows.
  for (const role of ["analyst", "service", "analyst"]) {
    const res = await call("POST", "/v1/keys", { key: admin.key, body: { name: `audit-${role}`, role } });
    expect(res.status).toBe(201);
  }
});

async function verify(query = ""): Promise<Verify> {
  const res = await call("GET", `/v1/audit/verify${query}`, { key: admin.key });
  expect(res.status).toBe(200);
  return res.json<Verify>();
}

/** Empties the log and its checkpoints and appends `rows` entries through the worker's own audit writer. */
async function freshChain(rows: number): Promise<void> {
  await env.DB.batch([env.DB.prepare("delete from audit_log"), env.DB.prepare("delete from audit_checkpoints")]);
  const s = svc();
  for (let i = 1; i <= rows; i++) {
    const entry = { actor: TEST_CALLER.actor, action: "test.step", subject: { type: "test", id: `step-${i}` }, after: { step: i } };
    await s.audit.commit(async () => ({ statements: [], entries: [entry], result: undefined }));
  }
}

/**
 * What someone with write access to D1 (and this repository) can do: rewrite every row from
 * `fromSeq` on, with `edit` applied, re-linked to the row before it and re-hashed with the
 * chain's own functions, so every SHA-256 in the table is valid again.
 */
async function rewriteChain(fromSeq: number, edit: (row: ChainedRow) => ChainedRow = (row) => row): Promise<void> {
  const db = svc().db;
  const rows = await db.select().from(auditLog).orderBy(asc(auditLog.seq)).all();
  let prevHash = rows.filter((r) => r.seq < fromSeq).at(-1)?.hash ?? GENESIS_HASH;
  for (const row of rows.filter((r) => r.seq >= fromSeq)) {
    const { hash: _old, ...fields } = row;
    const rewritten = { ...edit(fields), prevHash };
    const hash = await rowHash(rewritten);
    await db.update(auditLog).set({ ...rewritten, hash }).where(eq(auditLog.seq, row.seq)).run();
    prevHash = hash;
  }
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
});

describe("audit log tampered with directly in D1", () => {
  beforeEach(() => freshChain(6));

  it("names the row whose content was changed", async () => {
    await env.DB.prepare("update audit_log set after = ? where seq = 3").bind('{"role":"admin"}').run();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toMatchObject({ seq: 3, reason: "hash_mismatch" });
  });

  it("names the gap when a row is deleted, even with every later row re-linked and re-hashed", async () => {
    await env.DB.prepare("delete from audit_log where seq = 3").run();
    await rewriteChain(4);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toMatchObject({ seq: 3, reason: "missing_row" });
  });

  it("reports the rows missing after the last checkpoint when the newest rows are deleted", async () => {
    await runCron(CRONS.sweep, svc());
    await env.DB.prepare("delete from audit_log where seq > 4").run();
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toMatchObject({ seq: 5, reason: "tail_missing" });
    expect(result.head).toMatchObject({ seq: 4 });
  });

  it("fails when the whole chain is recomputed with new content after a checkpoint", async () => {
    await runCron(CRONS.sweep, svc());
    await rewriteChain(2, (row) => (row.seq === 2 ? { ...row, after: '{"step":"rewritten"}' } : row));
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toMatchObject({ seq: 6, reason: "checkpoint_mismatch" });
  });
});
