/**
 * Backup → wipe → restore, end to end: the worker (harness, on a D1 kept on disk in wrangler's
 * local layout) and the Stripe emulator make real data; `scripts/backup.ts` exports it with
 * `wrangler d1 export`, `scripts/restore.ts` wipes the database and loads the dump with
 * `wrangler d1 execute --file`; then the audit chain and its signed checkpoint still verify, and
 * a resync from Stripe brings back what changed at Stripe after the backup.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { generateSigningKey } from "../../scripts/keys.ts";
import { query } from "../../scripts/backup-common.ts";
import { backup } from "../../scripts/backup.ts";
import { restore } from "../../scripts/restore.ts";
import { catalog } from "../../worker/src/catalog.ts";
import { seedCatalog } from "../../scripts/catalog-prices.ts";
import { startWorker, WRANGLER_D1_ID, type WorkerHarness } from "../harness/worker.ts";

let emulator: Emulator;
let stripe: Stripe;
let dir: string;
let worker: WorkerHarness | undefined;
let start: () => Promise<WorkerHarness>;
let endpointId: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, secretKey: "sk_test_backup" });
  stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  await seedCatalog(stripe);
  const endpoint = await stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/webhooks/stripe", enabled_events: ["*"] });
  endpointId = endpoint.id;
  // A project of its own: wrangler keeps its local D1 in .wrangler/state beside this config.
  dir = mkdtempSync(path.join(tmpdir(), "fja-backup-"));
  writeFileSync(
    path.join(dir, "wrangler.toml"),
    `name = "backup-e2e"\ncompatibility_date = "2026-11-01"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "billing"\ndatabase_id = "${WRANGLER_D1_ID}"\n`,
  );
  // The same secrets across restarts: the checkpoints' key must be the one that signed them.
  const bindings = { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret!, AUDIT_CHECKPOINT_SECRET: "c".repeat(64) };
  const signingKeys = { keys: [await generateSigningKey("current")] };
  start = async () => {
    const w = await startWorker({ persistTo: path.join(dir, ".wrangler", "state"), bindings, signingKeys });
    await stripe.webhookEndpoints.update(endpointId, { url: `${w.url}/webhooks/stripe`, disabled: false });
    return w;
  };
  worker = await start();
}, 60_000);

afterAll(async () => {
  await worker?.dispose();
  await emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const config = () => path.join(dir, "wrangler.toml");
const mirrored = async (w: WorkerHarness, userId: string) =>
  w.db.prepare("select tier, status, cancel_at_period_end as cancelAtPeriodEnd from subscriptions where user_id = ?").bind(userId).first<{ tier: string; status: string; cancelAtPeriodEnd: number }>();
const verify = async (w: WorkerHarness) =>
  (await w.request("/v1/audit/verify", { key: w.adminKey })).json() as Promise<{
    ok: boolean;
    rows_checked: number;
    head: { seq: number; hash: string };
    checkpoint: { seq: number; source: string } | null;
  }>;
const minuteCron = async (w: WorkerHarness) => (await w.mf.getWorker()).scheduled({ cron: "* * * * *", scheduledTime: new Date() });

describe("backup, wipe and restore of the worker's D1", () => {
  it("restores the audit chain with its checkpoint, and a resync brings the mirror up to what Stripe changed since", async () => {
    const w1 = worker!;
    // Real data: a subscriber through Stripe's webhooks, audited key changes, a signed checkpoint.
    const [local] = (await stripe.prices.list({ lookup_keys: ["local_monthly"] })).data;
    const customer = await stripe.customers.create({ metadata: { user_id: "backup_user" }, payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: local!.id }], metadata: { user_id: "backup_user", tier: "local" } });
    await vi.waitFor(async () => expect(await mirrored(w1, "backup_user")).toMatchObject({ tier: "local", status: "active" }), { timeout: 20_000, interval: 50 });
    expect((await w1.request("/v1/keys", { key: w1.adminKey, json: { name: "before-backup", role: "analyst" } })).status).toBe(201);
    // Every delivery Stripe has made is in, so what the backup holds is what is counted here.
    await emulator.idle();
    await w1.drainQueue();
    await minuteCron(w1);
    const before = await verify(w1);
    expect(before).toMatchObject({ ok: true, checkpoint: { source: "stored" } });
    expect(before.checkpoint!.seq).toBe(before.head.seq);
    const rowsBefore = (await w1.db.prepare("select count(*) as n from stripe_events").first<{ n: number }>())!.n;
    // Analytics' trigger-kept tables: the dump restores their rows before it recreates the
    // triggers, so the restore must neither lose nor double count them.
    const derived = async (w: WorkerHarness) => ({
      current: (await w.db.prepare("select customer_id, currency, tier, mrr, standing from customer_current order by customer_id, currency, tier").all()).results,
      revenue: (await w.db.prepare("select currency, month, revenue, invoices from invoice_revenue_months order by currency, month").all()).results,
    });
    const derivedBefore = await derived(w1);
    expect(derivedBefore.current).toEqual([expect.objectContaining({ tier: "local", mrr: 2_900, standing: 0 })]);
    expect(derivedBefore.revenue).toEqual([expect.objectContaining({ revenue: 2_900, invoices: 1 })]);
    await w1.dispose();
    worker = undefined;

    const started = Date.now();
    const made = await backup({ target: "local", config: config(), outDir: path.join(dir, "backups") });
    const backupMs = Date.now() - started;
    expect(path.basename(made.file)).toMatch(/^billing-local-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.sql$/);
    const dump = readFileSync(made.file, "utf8");
    expect(dump).toMatch(/CREATE TABLE [`"]?audit_log/);
    expect(dump).toContain("backup_user");

    // After the backup: a local change the restore must undo, and a change at Stripe the worker never hears of.
    const w2 = await start();
    worker = w2;
    expect((await w2.request("/v1/keys", { key: w2.adminKey, json: { name: "after-backup", role: "analyst" } })).status).toBe(201);
    await stripe.webhookEndpoints.update(endpointId, { disabled: true });
    const [mobile] = (await stripe.prices.list({ lookup_keys: ["mobile_monthly"] })).data;
    await stripe.subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, price: mobile!.id }], metadata: { tier: "mobile" }, proration_behavior: "none" });
    await w2.dispose();
    worker = undefined;

    const restoreStarted = Date.now();
    const restored = await restore(made.file, { target: "local", config: config() });
    const restoreMs = Date.now() - restoreStarted;
    expect(restored.sha256).toBe(made.sha256);
    expect(restored.dropped).toBeGreaterThan(10);

    const w3 = await start();
    worker = w3;
    // The wipe took what came after the backup; the dump brought back what was before it.
    expect(
      await w3.db
        .prepare("select name from api_keys where name in ('before-backup', 'after-backup')")
        .all<{ name: string }>()
        .then((r) => r.results.map((x) => x.name)),
    ).toEqual(["before-backup"]);
    expect((await w3.db.prepare("select count(*) as n from stripe_events").first<{ n: number }>())!.n).toBe(rowsBefore);
    expect(await derived(w3)).toEqual(derivedBefore);
    const after = await verify(w3);
    expect(after.ok).toBe(true);
    expect(after.checkpoint).toMatchObject({ seq: before.checkpoint!.seq, source: "stored" });
    expect(after.rows_checked).toBeGreaterThanOrEqual(before.rows_checked);

    // The mirror is as it was at the backup, behind Stripe, until the resync.
    expect(await mirrored(w3, "backup_user")).toMatchObject({ tier: "local" });
    let phase = "";
    let body: Record<string, unknown> = { restart: true };
    for (let i = 0; i < 20 && phase !== "done"; i++) {
      const res = await w3.request("/v1/admin/resync", { key: w3.adminKey, json: body });
      expect(res.status).toBe(200);
      phase = ((await res.json()) as { phase: string }).phase;
      body = {};
    }
    expect(phase).toBe("done");
    expect(await mirrored(w3, "backup_user")).toMatchObject({ tier: "mobile", status: "active" });
    expect((await derived(w3)).current).toEqual([expect.objectContaining({ tier: "mobile", mrr: 4_900, standing: 0 })]);

    // The compliance report reads the backup and the restore the scripts recorded.
    const report = (await (await w3.request("/v1/compliance/report", { key: w3.adminKey })).json()) as { items: { id: string; status: string; evidence: Record<string, { file: string } | null> }[] };
    const backups = report.items.find((i) => i.id === "backups")!;
    expect(backups.status).toBe("pass");
    expect(backups.evidence.last_backup!.file).toBe(path.basename(made.file));
    expect(backups.evidence.last_restore!.file).toBe(path.basename(made.file));
    console.log(JSON.stringify({ backup_ms: backupMs, restore_ms: restoreMs, dump_bytes: made.bytes }));
  }, 90_000);

  it("refuses to restore the remote database without --confirm-remote, before touching anything", async () => {
    const { execFile } = await import("node:child_process");
    const file = path.join(dir, "missing.sql");
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(path.join(process.cwd(), "node_modules", ".bin", "tsx"), ["scripts/restore.ts", file, "--remote"], (error, _stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--confirm-remote/);
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a file that is not a complete export of this database before dropping anything", async () => {
    await worker?.dispose();
    worker = undefined;
    const o = { target: "local" as const, config: config() };
    const made = await backup({ ...o, outDir: path.join(dir, "backups-refused") });
    const dump = readFileSync(made.file, "utf8");
    const objects = async () => (await query<{ n: number }>("select count(*) as n from sqlite_master", o))[0]!.n;
    const before = await objects();
    expect(before).toBeGreaterThan(10);
    const files = {
      empty: "",
      "plain SQL": "select 1;\n",
      "another database's export": 'PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE IF NOT EXISTS "notes" (id text);\n',
      "an export cut short": dump.slice(0, Math.floor(dump.length * 0.6)).replace(/;\s*$/, ""),
    };
    for (const [what, text] of Object.entries(files)) {
      const file = path.join(dir, `${what.replace(/\W+/g, "-")}.sql`);
      writeFileSync(file, text);
      await expect(restore(file, o), what).rejects.toThrow(/not a complete D1 export.*nothing was dropped/);
    }
    expect(await objects()).toBe(before);
  }, 60_000);
});
