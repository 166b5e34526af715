import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { checkpointAuditHead } from "../../worker/src/audit/checkpoint";
import { createApiKey, rotateApiKey } from "../../worker/src/auth/api-keys";
import { backupRecordSql } from "../../worker/src/compliance/backups";
import { findPans, luhnValid } from "../../worker/src/compliance/pan";
import { complianceReport, type ComplianceReport, type EvidenceItem } from "../../worker/src/compliance/report";
import { fixedClock, systemClock } from "../../worker/src/clock";
import type { Env } from "../../worker/src/env";
import { services } from "../../worker/src/wiring";
import { call, count, makeKey, svc, TEST_ACTOR } from "./helpers";
import { deliver, settled, stripeEvent } from "./stripe-helpers";

const DAY = 86_400_000;
let admin: { key: string; id: string };
let analyst: { key: string; id: string };

async function report(key = admin.key): Promise<ComplianceReport> {
  const res = await call("GET", "/v1/compliance/report", { key });
  expect(res.status).toBe(200);
  return res.json<ComplianceReport>();
}

const item = (r: ComplianceReport, id: string) => r.items.find((i) => i.id === id)!;
/** The ids of the failing items, with their findings on a mismatch so a failure explains itself. */
const failing = (r: ComplianceReport) => r.items.filter((i) => i.status === "fail").map((i) => `${i.id}: ${i.detail}`);

beforeAll(async () => {
  admin = await makeKey("admin");
  analyst = await makeKey("analyst");
  // As in production: the minute cron has signed the chain's head, and last night's backup is recorded.
  expect((await checkpointAuditHead(svc())).status).toBe("made");
  await env.DB.prepare(backupRecordSql({ kind: "backup", at: Date.now() - 3 * 3_600_000, file: "billing-local-test.sql", target: "local", bytes: 12345, sha256: "ab".repeat(32) })).run();
});

describe("the compliance report on a correctly configured worker", () => {
  it("passes every item, each mapped to controls with a rationale and evidence", async () => {
    const r = await report();
    expect(failing(r)).toEqual([]);
    expect(r.status).toBe("pass");
    expect(r.items.map((i) => i.id)).toEqual([
      "webhook_signatures",
      "no_card_data_columns",
      "no_card_data_stored",
      "audit_chain",
      "api_key_rotation",
      "signing_key_age",
      "rate_limits",
      "transport_security",
      "least_privilege",
      "backups",
      "failed_events",
      "dunning_backlog",
    ]);
    for (const i of r.items) {
      expect(i.controls.length).toBeGreaterThan(0);
      expect(i.rationale.length).toBeGreaterThan(40);
    }
    expect(item(r, "webhook_signatures").evidence).toMatchObject({ secrets_configured: 2, route: { permission: "stripe_signature" }, probe: { status: 400, code: "invalid_signature" } });
    expect(item(r, "transport_security").evidence).toMatchObject({ probe: { status: 401, headers: { "x-content-type-options": "nosniff" } } });
    expect(item(r, "audit_chain").evidence).toMatchObject({ checkpointing: "enabled", checkpoint: { source: "stored" } });
    expect(item(r, "backups").evidence).toMatchObject({ last_backup: { file: "billing-local-test.sql", age_hours: 3 } });
    const scan = item(r, "no_card_data_stored").evidence as { rows_scanned: number; tables: number; complete: boolean };
    expect(scan.complete).toBe(true);
    expect(scan.rows_scanned).toBeGreaterThanOrEqual(await count("audit_log"));
    expect(item(r, "no_card_data_columns").evidence).toMatchObject({ flagged: [] });
    // Evidence, not secrets: no webhook secret, signing key or checkpoint secret in the report.
    const text = JSON.stringify(r);
    for (const secret of ["whsec_test_current", env.AUDIT_CHECKPOINT_SECRET!, ...JSON.parse(env.ENTITLEMENTS_SIGNING_KEYS!).keys.map((k: { d: string }) => k.d)]) expect(text).not.toContain(secret);
  });

  it("is for admins and analysts only", async () => {
    expect((await report(analyst.key)).status).toBe("pass");
    const service = await makeKey("service");
    expect((await call("GET", "/v1/compliance/report", { key: service.key })).status).toBe(403);
    expect((await call("GET", "/v1/compliance/report")).status).toBe(401);
  });

  it("answers in Markdown with Accept: text/markdown", async () => {
    const res = await call("GET", "/v1/compliance/report", { key: admin.key, headers: { accept: "text/markdown" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/markdown/);
    const md = await res.text();
    expect(md).toMatch(/^# Compliance evidence report/);
    expect(md).toContain("**Overall: PASS**");
    expect(md).toMatch(/\| Stripe webhooks are accepted only with a valid signature \(`webhook_signatures`\) \| PASS \| NIST SP 800-53 Rev. 5 SI-7/);
    expect(md).toContain("PCI DSS v4.0 SAQ A 8.3.9");
    expect(md.match(/^## /gm)!.length).toBe(13);
  });

  it("refuses query parameters it does not know, naming them", async () => {
    const res = await call("GET", "/v1/compliance/report?verbose=1", { key: admin.key });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
  });
});

describe("the compliance report fails the right control", () => {
  it("when STRIPE_WEBHOOK_SECRETS is missing: webhook_signatures, and nothing else", async () => {
    const without = { ...env, STRIPE_WEBHOOK_SECRETS: undefined } as Env;
    const app = createApp(systemClock);
    const r = await complianceReport(services(without, systemClock), { env: without, probe: (req) => Promise.resolve(app.request(req, undefined, without)) });
    expect(r.summary.failing).toEqual(["webhook_signatures"]);
    const w = item(r, "webhook_signatures");
    expect(w.detail).toMatch(/STRIPE_WEBHOOK_SECRETS/);
    expect(w.evidence).toMatchObject({ secrets_configured: 0 });
    // The worker without secrets cannot verify anything: the wrongly signed probe is not refused as such.
    expect((w.evidence.probe as { code: string }).code).not.toBe("invalid_signature");
  });

  it("when an API key is older than the 90-day rotation policy: api_key_rotation, naming the key", async () => {
    const { view } = await createApiKey(svc(Date.now() - 91 * DAY), TEST_ACTOR, { name: "forgotten-integration", role: "service" });
    try {
      const r = await report();
      expect(r.summary.failing).toEqual(["api_key_rotation"]);
      const k = item(r, "api_key_rotation");
      expect(k.detail).toContain(view.prefix);
      expect(k.evidence.overdue).toEqual([expect.objectContaining({ id: view.id, name: "forgotten-integration", age_days: 91 })]);
      const md = await (await call("GET", "/v1/compliance/report", { key: admin.key, headers: { accept: "text/markdown" } })).text();
      expect(md).toContain("**Overall: FAIL** — 11 passed, 1 failed (api_key_rotation)");
      expect(md).toMatch(/\(`api_key_rotation`\) \| \*\*FAIL\*\*/);
      // Rotated (the new key works, the old one expires after its 24 h overlap): no longer overdue, listed as rotating.
      const rotated = await rotateApiKey(svc(), TEST_ACTOR, view.id, {});
      const after = await report();
      expect(after.summary.failing).toEqual([]);
      expect(item(after, "api_key_rotation").evidence.rotating).toEqual([expect.objectContaining({ id: view.id })]);
      await env.DB.prepare("update api_keys set revoked_at = ? where id = ?").bind(Date.now(), rotated.view.id).run();
    } finally {
      await env.DB.prepare("update api_keys set revoked_at = ? where id = ?").bind(Date.now(), view.id).run();
    }
  });

  it("when a key is exactly at the policy's age it still passes; a fixed clock a day later fails it", async () => {
    const createdAt = Date.now() - 90 * DAY;
    const { view } = await createApiKey(svc(createdAt), TEST_ACTOR, { name: "edge", role: "analyst" });
    try {
      const at = (t: number) => complianceReport(svc(t), { env, probe: null }).then((r) => item(r, "api_key_rotation").status);
      expect(await at(createdAt + 90 * DAY)).toBe("pass");
      expect(await at(createdAt + 90 * DAY + 1)).toBe("fail");
    } finally {
      await env.DB.prepare("update api_keys set revoked_at = ? where id = ?").bind(Date.now(), view.id).run();
    }
  });

  it("when an audit row was altered in D1: audit_chain, naming the row", async () => {
    const row = await env.DB.prepare("select seq, after from audit_log order by seq limit 1 offset 1").first<{ seq: number; after: string }>();
    await env.DB.prepare("update audit_log set after = ? where seq = ?").bind('{"role":"admin"}', row!.seq).run();
    try {
      const r = await report();
      expect(r.summary.failing).toEqual(["audit_chain"]);
      expect(item(r, "audit_chain").evidence).toMatchObject({ first_broken: { seq: row!.seq, reason: "hash_mismatch" } });
      expect(item(r, "audit_chain").detail).toContain(`row ${row!.seq}`);
    } finally {
      await env.DB.prepare("update audit_log set after = ? where seq = ?").bind(row!.after, row!.seq).run();
    }
    expect(item(await report(), "audit_chain").status).toBe("pass");
  });

  it("when a stored Stripe payload holds a card number: no_card_data_stored, masked", async () => {
    const id = `evt_pan_${Date.now()}`;
    const event = stripeEvent(id, "charge.succeeded", { id: "ch_pan", object: "charge", amount: 4900, currency: "usd", description: "Phone order: card 4242424242424242 exp 12/34 taken by support" });
    expect((await deliver(event)).status).toBe(200);
    expect(await settled(id)).not.toBe("missing");
    try {
      const r = await report();
      expect(r.summary.failing).toEqual(["no_card_data_stored"]);
      const found = item(r, "no_card_data_stored").evidence as { findings_total: number; findings: { table: string; column: string; masked: string; brand: string }[] };
      expect(found.findings_total).toBe(1);
      expect(found.findings[0]).toMatchObject({ table: "stripe_events", column: "payload", masked: "424242******4242", brand: "visa" });
      const md = await (await call("GET", "/v1/compliance/report", { key: admin.key, headers: { accept: "text/markdown" } })).text();
      expect(md).toContain("424242******4242");
      for (const text of [JSON.stringify(r), md]) expect(text).not.toContain("4242424242424242");
    } finally {
      await env.DB.prepare("delete from stripe_events where id = ?").bind(id).run();
    }
  });

  it("when the last backup is older than the policy (26 h): backups", async () => {
    const r = await complianceReport(svc(Date.now() + 24 * 3_600_000), { env, probe: null });
    expect(item(r, "backups")).toMatchObject({ status: "fail", evidence: { last_backup: { age_hours: 27 } } });
  });
});

describe("the card-number scan", () => {
  afterEach(async () => {
    await env.DB.prepare("delete from sync_state where key like 'pan-test-%'").run();
  });

  it("reads big tables in bounded batches and counts every row it read", async () => {
    const stmts = Array.from({ length: 60 }, (_, i) =>
      env.DB.prepare("insert into sync_state (key, value) values (?, ?)").bind(`pan-test-${i}`, i === 47 ? '{"note":"5555 5555 5555 4444"}' : `{"at":${1767225600000 + i}}`),
    );
    await env.DB.batch(stmts);
    const r = await complianceReport(svc(), { env, probe: null, policy: { cardScanBatch: 7 } });
    const scan = item(r, "no_card_data_stored").evidence as { rows_scanned: number; queries: number; findings: { table: string; masked: string; brand: string }[] };
    let total = 0;
    for (const t of (
      await env.DB.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '_cf_%' and name not like 'd1_%'").all<{ name: string }>()
    ).results) {
      total += (await env.DB.prepare(`select count(*) as n from "${t.name}"`).first<{ n: number }>())!.n;
    }
    expect(scan.rows_scanned).toBe(total);
    expect(scan.queries).toBeGreaterThanOrEqual(Math.ceil(60 / 7));
    expect(scan.findings).toEqual([expect.objectContaining({ table: "sync_state", masked: "555555******4444", brand: "mastercard" })]);
  });

  it("stops at its row limit and fails rather than claim what it did not read", async () => {
    const r = await complianceReport(svc(), { env, probe: null, policy: { cardScanBatch: 5, cardScanMaxRows: 10 } });
    expect(item(r, "no_card_data_stored")).toMatchObject({ status: "fail", evidence: { rows_scanned: 10, complete: false } });
  });

  it("finds Luhn-valid card numbers, plain or grouped, and not timestamps, ids, hashes or longer numbers", () => {
    expect(luhnValid("4242424242424242")).toBe(true);
    expect(luhnValid("4242424242424241")).toBe(false);
    const found = (s: string) => findPans(s).map((p) => p.masked);
    expect(found('{"d":"card 4242424242424242"}')).toEqual(["424242******4242"]);
    expect(found("4000-0566-5566-5556 and 3782 822463 10005")).toEqual(["400005******5556", "378282*****0005"]);
    expect(found('{"n":4111111111111111,"m":5105105105105100}')).toEqual(["411111******1111", "510510******5100"]);
    // Millisecond times pass Luhn one time in ten; none starts like a card.
    const msTimes = Array.from({ length: 50 }, (_, i) => String(1767225600000 + i * 7919));
    expect(found(msTimes.join(","))).toEqual([]);
    expect(found("cus_4242424242424242 ch4242424242424242x 42424242424242424242 4242424242424242a")).toEqual([]);
    expect(found("a1b2c3d4e5f6" + "4242424242424242" + "ff")).toEqual([]);
    expect(found("4242424242424241")).toEqual([]);
  });
});

describe("a report can be computed with a fixed clock", () => {
  it("dates itself by the clock it is given", async () => {
    const at = Date.UTC(2026, 5, 1);
    const r = await complianceReport(services(env, fixedClock(at)), { env, probe: null });
    expect(r.generated_at).toBe(new Date(at).toISOString());
    // Without a loopback the checks that need one fail and say so, rather than pass unseen.
    expect(item(r, "webhook_signatures").detail).toMatch(/probe/);
  });
});
