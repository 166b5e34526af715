import { createExecutionContext, env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../worker/src/app";
import { GENESIS_HASH, rowHash, type ChainedRow } from "../../worker/src/audit/chain";
import { checkpointKey, type CheckpointKey } from "../../worker/src/audit/checkpoint-key";
import { systemClock } from "../../worker/src/clock";
import { CRONS, runCron } from "../../worker/src/cron";
import { auditLog } from "../../worker/src/db/schema";
import type { Env } from "../../worker/src/env";
import type { Services } from "../../worker/src/services";
import { services } from "../../worker/src/wiring";
import { BASE, call, freshIp, makeKey, svc, TEST_ACTOR } from "./helpers";

type Verify = {
  ok: boolean;
  rows_checked: number;
  head: { seq: number; hash: string } | null;
  first_broken: { seq: number; reason: string; detail: string } | null;
  checkpoint: { seq: number; at: string | null; source: "stored" | "given" } | null;
  checkpointing: "enabled" | "not_configured";
};
type StoredCheckpoint = { seq: number; hash: string; at: number; mac: string };

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

async function checkpoints(): Promise<StoredCheckpoint[]> {
  return (await env.DB.prepare("select seq, hash, at, mac from audit_checkpoints order by seq").all<StoredCheckpoint>()).results;
}

async function rowHashAt(seq: number): Promise<string | undefined> {
  return (await env.DB.prepare("select hash from audit_log where seq = ?").bind(seq).first<{ hash: string }>())?.hash;
}

/** The worker's own key, as the test config hands it AUDIT_CHECKPOINT_SECRET. */
const workerKey = () => checkpointKey([env.AUDIT_CHECKPOINT_SECRET!]);

/** These services with another checkpoint key (or none), the rest untouched. */
function withCheckpointKey(s: Services, key: CheckpointKey | null): Services {
  return new Proxy(s, { get: (target, prop) => (prop === "checkpointKey" ? key : Reflect.get(target, prop)) });
}

/** Log lines of one kind, parsed, from a console spy. */
const linesOf = (spy: { mock: { calls: unknown[][] } }, message: string) =>
  spy.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>).filter((line) => line.message === message);

/** Appends `rows` entries through the worker's own audit writer. */
async function freshRows(rows: number): Promise<void> {
  const s = svc();
  for (let i = 1; i <= rows; i++) {
    const entry = { actor: TEST_ACTOR, action: "test.step", subject: { type: "test", id: crypto.randomUUID() }, after: { step: i } };
    await s.audit.commit(async () => ({ statements: [], entries: [entry], result: undefined }));
  }
}

/** Empties the log and its checkpoints, then appends `rows` entries. */
async function freshChain(rows: number): Promise<void> {
  await env.DB.batch([env.DB.prepare("delete from audit_log"), env.DB.prepare("delete from audit_checkpoints")]);
  await freshRows(rows);
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
    await db
      .update(auditLog)
      .set({ ...rewritten, hash })
      .where(eq(auditLog.seq, row.seq))
      .run();
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
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call("POST", "/v1/keys", { key: admin.key, body: { name: `race-${i}`, role: "analyst" } })));
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

describe("signed checkpoints of the audit chain's head", () => {
  beforeEach(() => freshChain(3));
  afterEach(() => vi.restoreAllMocks());

  it("makes one checkpoint per new head: none while the head stays, another once it moves", async () => {
    await runCron(CRONS.sweep, svc());
    await runCron(CRONS.sweep, svc());
    expect((await checkpoints()).map((c) => c.seq)).toEqual([3]);

    await freshRows(2);
    await runCron(CRONS.sweep, svc());
    const made = await checkpoints();
    expect(made.map((c) => c.seq)).toEqual([3, 5]);
    expect(made[1]!.hash).toBe(await rowHashAt(5));

    const result = await verify();
    expect(result).toMatchObject({ ok: true, checkpoint: { seq: 5, at: new Date(made[1]!.at).toISOString(), source: "stored" }, checkpointing: "enabled" });
  });

  it("logs each checkpoint as a line whose MAC verifies with the secret, outside D1", async () => {
    const logged = vi.spyOn(console, "log");
    await runCron(CRONS.sweep, svc());
    const [line] = linesOf(logged, "audit checkpoint");
    const [stored] = await checkpoints();
    expect(line).toMatchObject({ level: "info", seq: 3, hash: await rowHashAt(3), at: stored!.at, mac: stored!.mac });
    const { seq, hash, at, mac } = line as unknown as StoredCheckpoint;
    expect(await workerKey().verify({ seq, hash, at }, mac)).toBe(true);
    // The MAC binds every field: the same line with another hash does not verify.
    expect(await workerKey().verify({ seq, hash: "f".repeat(64), at }, mac)).toBe(false);
  });

  it("stores and logs one checkpoint when two cron runs sign the same head at once", async () => {
    const key = workerKey();
    let signed = 0;
    const counting: CheckpointKey = { sign: (c) => (signed++, key.sign(c)), verify: key.verify };
    const logged = vi.spyOn(console, "log");
    await Promise.all([runCron(CRONS.sweep, withCheckpointKey(svc(), counting)), runCron(CRONS.sweep, withCheckpointKey(svc(), counting))]);
    // Both runs got as far as signing head 3, so the seq key is what kept one.
    expect(signed).toBe(2);
    expect((await checkpoints()).map((c) => c.seq)).toEqual([3]);
    expect(linesOf(logged, "audit checkpoint")).toHaveLength(1);
  });

  it("fails on a checkpoint row whose MAC was not made with the secret (a forged checkpoint), and signs nothing on top of it", async () => {
    await runCron(CRONS.sweep, svc());
    // Rewrite the chain, then replace its checkpoint with one for the new head, signed with a key of one's own.
    await rewriteChain(2, (row) => (row.seq === 2 ? { ...row, after: '{"step":"rewritten"}' } : row));
    const forged = { seq: 3, hash: (await rowHashAt(3))!, at: (await checkpoints())[0]!.at };
    const mac = await checkpointKey(["an-attackers-own-secret-of-32-characters"]).sign(forged);
    await env.DB.prepare("update audit_checkpoints set hash = ?, mac = ? where seq = 3").bind(forged.hash, mac).run();

    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.first_broken).toMatchObject({ seq: 3, reason: "checkpoint_forged" });
    expect(result.checkpoint).toMatchObject({ seq: 3, source: "stored" });

    // Nor does the cron build on it: signing the next head would launder the rewrite.
    await freshRows(1);
    await runCron(CRONS.sweep, svc());
    expect((await checkpoints()).map((c) => c.seq)).toEqual([3]);
  });

  it("does not sign a head that no longer extends the last checkpoint, and says why in the log", async () => {
    await runCron(CRONS.sweep, svc());
    await rewriteChain(2, (row) => (row.seq === 2 ? { ...row, after: '{"step":"rewritten"}' } : row));
    await freshRows(1);
    const errors = vi.spyOn(console, "error");
    await runCron(CRONS.sweep, svc());
    expect((await checkpoints()).map((c) => c.seq)).toEqual([3]);
    expect(linesOf(errors, "audit chain does not extend its last checkpoint; not signing a new one")).toEqual([expect.objectContaining({ level: "error", seq: 3, reason: "checkpoint_mismatch" })]);
    expect((await verify()).first_broken).toMatchObject({ seq: 3, reason: "checkpoint_mismatch" });
  });

  it("checks the chain against a head the operator kept outside D1", async () => {
    // No cron has run: nothing is stored, only the operator's copy of the head.
    const kept = (await verify()).head!;
    const query = `?checkpoint_seq=${kept.seq}&checkpoint_hash=${kept.hash}`;
    expect(await verify(query)).toMatchObject({ ok: true, checkpoint: { seq: 3, at: null, source: "given" } });

    await rewriteChain(1, (row) => (row.seq === 1 ? { ...row, after: '{"step":"rewritten"}' } : row));
    expect((await verify(query)).first_broken).toMatchObject({ seq: 3, reason: "checkpoint_mismatch" });

    await env.DB.prepare("delete from audit_log where seq > 1").run();
    expect((await verify(query)).first_broken).toMatchObject({ seq: 2, reason: "tail_missing" });
  });

  it("rejects half an operator checkpoint, or a malformed hash, as a problem naming the field", async () => {
    const half = await call("GET", "/v1/audit/verify?checkpoint_seq=3", { key: admin.key });
    expect(half.status).toBe(400);
    expect(half.headers.get("content-type")).toBe("application/problem+json");
    expect((await half.json<{ errors: { field: string }[] }>()).errors.map((e) => e.field)).toEqual(["query.checkpoint_hash"]);
    const malformed = await call("GET", "/v1/audit/verify?checkpoint_seq=3&checkpoint_hash=abc", { key: admin.key });
    expect(malformed.status).toBe(400);
    expect((await malformed.json<{ errors: { field: string }[] }>()).errors.map((e) => e.field)).toEqual(["query.checkpoint_hash"]);
  });

  it("makes no checkpoint without AUDIT_CHECKPOINT_SECRET, and verify says so instead of failing", async () => {
    await runCron(CRONS.sweep, svc());
    const unset: Env = { ...env, AUDIT_CHECKPOINT_SECRET: undefined };
    await freshRows(1);
    await runCron(CRONS.sweep, services(unset, systemClock));
    expect((await checkpoints()).map((c) => c.seq)).toEqual([3]);

    const res = await createApp().request(`${BASE}/v1/audit/verify`, { headers: { authorization: `Bearer ${admin.key}`, "cf-connecting-ip": freshIp() } }, unset, createExecutionContext());
    expect(res.status).toBe(200);
    // The stored checkpoint is not used: without the key it cannot be told from a forged one.
    expect(await res.json()).toMatchObject({ ok: true, checkpoint: null, checkpointing: "not_configured" });
  });

  it("answers config-invalid naming AUDIT_CHECKPOINT_SECRET when it is too short to be a key", async () => {
    const short: Env = { ...env, AUDIT_CHECKPOINT_SECRET: "hunter2" };
    const res = await createApp().request(`${BASE}/v1/audit/verify`, { headers: { authorization: `Bearer ${admin.key}`, "cf-connecting-ip": freshIp() } }, short, createExecutionContext());
    expect(res.status).toBe(503);
    const problem = await res.json<{ errors: { field: string }[] }>();
    expect(problem.errors.map((e) => e.field)).toEqual(["AUDIT_CHECKPOINT_SECRET.0"]);
  });
});
