/**
 * Monitoring from real state: /health's figures, the cron record, and the alert webhook posting
 * to a loopback receiver (monitoring-receiver.ts). The tests run in order and build on each
 * other's state (one database per file): a lagging and a parked event, a real failed renewal,
 * emails, crons run at chosen times; the alerts are evaluated at times far enough ahead that
 * their windows are fresh.
 */
import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { BACKOFF_MS, MAX_ATTEMPTS, storeEvent } from "../../worker/src/stripe-sync/events";
import { processEvent } from "../../worker/src/stripe-sync/process";
import { fixedClock } from "../../worker/src/clock";
import { CRONS, runCron } from "../../worker/src/cron";
import { auditLog, cronRuns, dunningCases, entitlementChanges, idempotencyKeys, monitoringAlerts, stripeEvents } from "../../worker/src/db/schema";
import { enqueueEmailNow } from "../../worker/src/email/outbox";
import { sendDueEmails } from "../../worker/src/email/sweep";
import type { Env } from "../../worker/src/env";
import { deliverAlerts, monitorAndAlert, type AlertPayload } from "../../worker/src/monitoring/alerts";
import { MONITORING_THRESHOLDS } from "../../worker/src/monitoring/thresholds";
import { verifyAlertSignature } from "../../worker/src/monitoring/signature";
import type { HealthResponse } from "../../worker/src/routes/system/health";
import { services } from "../../worker/src/wiring";
import { failedRenewal } from "./dunning-helpers";
import { call, makeKey, svc } from "./helpers";
import { db, eventsFor, subscriber, webhookEvent } from "./stripe-helpers";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SECRET = "alert-secret-0123456789abcdef0123456789abcdef";

const health = async () => {
  const res = await call("GET", "/health");
  return { status: res.status, body: await res.json<HealthResponse>() };
};

/** Services with other settings (a new env object: config is parsed per object). */
function withVars(vars: Partial<Env>, at: number, d1?: D1Database) {
  return services({ ...env, ...vars }, fixedClock(at), d1 ? { d1 } : {});
}
const alertingTo = (path: string) => ({ ALERT_WEBHOOK_URL: `${inject("alertReceiverBase")}${path}`, ALERT_WEBHOOK_SECRET: SECRET });
type Received = { status: number; body: string; signature: string | null; alertId: string | null; contentType: string | null };
const received = async (inbox: string) => (await (await fetch(`${inject("alertReceiverBase")}/_requests/${inbox}`)).json()) as Received[];

/** A real subscription's created event, as Stripe sent it (from the emulator). */
async function realEvent() {
  const { sub } = await subscriber();
  const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
  return created!;
}

let lagging: string;
let parked: string;
let anchorAt: number;

describe("GET /health", () => {
  it("is ok on a quiet system, with Stripe reachable and nothing waiting", async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "ok", failing: [], d1: { ok: true }, stripe: { ok: true }, webhooks: { pending: 0, oldest_pending_age_s: null, parked: 0, lag_ok: true } });
    expect(body.crons).toEqual([
      { cron: "sweep", last_started_at: null, last_finished_at: null, last_ok: null, overdue: false },
      { cron: "dunning", last_started_at: null, last_finished_at: null, last_ok: null, overdue: false },
      { cron: "reconcile", last_started_at: null, last_finished_at: null, last_ok: null, overdue: false },
    ]);
  });

  it("reports an event waiting 20 minutes as webhook lag and an event that used up its retries as parked, and is degraded", async () => {
    // Stored as the queue consumer stores a webhook (received 20 minutes ago), not yet processed.
    const late = await realEvent();
    await storeEvent(db(), webhookEvent(late, { receivedAt: Date.now() - 20 * MINUTE }), Date.now());
    lagging = late.id;
    // Parked through the real retry path: every attempt fails until the limit.
    const failing = await realEvent();
    await storeEvent(db(), webhookEvent(failing), Date.now());
    let t = Date.now();
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      const outcome = await processEvent(
        {
          ...svc(t),
          fault: () => {
            throw new Error("Stripe is down");
          },
        },
        failing.id,
      );
      expect(outcome).toBe(i < MAX_ATTEMPTS ? "retry" : "parked");
      t += BACKOFF_MS[i - 1] ?? 0;
    }
    parked = failing.id;

    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.failing).toEqual(["webhook_lag", "events_parked"]);
    expect(body.webhooks).toMatchObject({ pending: 1, parked: 1, lag_ok: false });
    expect(body.webhooks!.oldest_pending_age_s).toBeGreaterThanOrEqual(20 * 60);
    expect(body.webhooks!.oldest_pending_age_s).toBeLessThan(22 * 60);
    // Public: no event id, no error text.
    const text = JSON.stringify(body);
    expect(text).not.toContain(lagging);
    expect(text).not.toContain(parked);
    expect(text).not.toContain("Stripe is down");
  });

  it("counts open dunning cases, and only those past their stage by 30 minutes as overdue", async () => {
    const before = (await health()).body.dunning!;
    const { kase } = await failedRenewal();
    anchorAt = kase.anchorAt;
    let after = (await health()).body.dunning!;
    // The case follows its test clock's time, which ours cannot call late.
    expect(after).toEqual({ open: before.open + 1, overdue: before.overdue });
    // The same case as a live customer's (no test clock) whose next stage was due an hour ago.
    await db()
      .update(dunningCases)
      .set({ testClock: null, nextActionAt: Date.now() - HOUR })
      .where(eq(dunningCases.id, kase.id))
      .run();
    after = (await health()).body.dunning!;
    expect(after).toEqual({ open: before.open + 1, overdue: before.overdue + 1 });
    expect((await health()).body.warnings).toContainEqual(expect.objectContaining({ code: "dunning_overdue", cases: before.overdue + 1 }));
    await db().update(dunningCases).set({ testClock: kase.testClock, nextActionAt: kase.nextActionAt }).where(eq(dunningCases.id, kase.id)).run();
  });

  it("counts the email outbox's waiting, late and failed emails", async () => {
    const before = (await health()).body.email!;
    const email = (key: string) => ({
      key,
      to: "pat@example.com",
      userId: "monitoring_user",
      email: { template: "payment_recovered" as const, plan: "Federal Job Advisor Local", amountPaid: { amount: 2900, currency: "usd" } },
    });
    // Refused by the provider (Resend's 422): failed at once.
    const rejecting = withVars({ EMAIL_TRANSPORT: "resend", RESEND_API_KEY: "re_test_key", RESEND_API_BASE: `${inject("emailServerBase")}/reject` }, Date.now());
    await enqueueEmailNow(rejecting, email(`monitoring:rejected:${Date.now()}`));
    await sendDueEmails(rejecting);
    // Due 20 minutes ago and never sent (no sweep ran).
    await enqueueEmailNow(svc(Date.now() - 20 * MINUTE), email(`monitoring:late:${Date.now()}`));
    const { body } = await health();
    expect(body.email).toEqual({ pending: before.pending + 1, overdue: before.overdue + 1, failed: before.failed + 1 });
    expect(body.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(["email_overdue", "email_failed"]));
    expect(JSON.stringify(body)).not.toContain("pat@example.com");
  });

  it("records each cron run, and a cron that has not run on time makes it degraded", async () => {
    await runCron(CRONS.sweep, svc(Date.now() - 10 * MINUTE));
    const row = await db().select().from(cronRuns).where(eq(cronRuns.cron, "sweep")).get();
    expect(row).toMatchObject({ lastOk: true, lastError: null });
    expect(Date.now() - 10 * MINUTE - row!.lastStartedAt!).toBeLessThan(5_000);
    expect(row!.lastFinishedAt!).toBeGreaterThanOrEqual(row!.lastStartedAt!);

    let { body } = await health();
    expect(body.status).toBe("degraded");
    expect(body.failing).toContain("cron:sweep");
    expect(body.crons!.find((c) => c.cron === "sweep")).toMatchObject({ last_ok: true, overdue: true, last_started_at: new Date(row!.lastStartedAt!).toISOString() });
    // Never run, but the first recorded cron ran only 10 minutes ago: within their gaps.
    expect(body.crons!.filter((c) => c.overdue).map((c) => c.cron)).toEqual(["sweep"]);

    await runCron(CRONS.sweep, svc());
    ({ body } = await health());
    expect(body.failing).not.toContain("cron:sweep");
    expect(body.crons!.find((c) => c.cron === "sweep")!.overdue).toBe(false);
  });

  it("keeps the newest start and the newest outcome when runs overlap, and records a failed run", async () => {
    const { recordCronFinish, recordCronStart } = await import("../../worker/src/monitoring/crons");
    const t = Date.now() + 10 * DAY;
    // A slow run started at t finishes after a run started at t + 1 min, which failed.
    await recordCronStart(svc(t), "reconcile");
    await recordCronStart(svc(t + MINUTE), "reconcile");
    await recordCronStart(svc(t), "reconcile");
    await recordCronFinish(svc(t + MINUTE + 5), "reconcile", new Error("Stripe is down"));
    await recordCronFinish(svc(t + 2 * MINUTE), "reconcile", undefined);
    await recordCronFinish(svc(t + MINUTE + 10), "reconcile", new Error("late"));
    expect(await db().select().from(cronRuns).where(eq(cronRuns.cron, "reconcile")).get()).toEqual({
      cron: "reconcile",
      lastStartedAt: t + MINUTE,
      lastFinishedAt: t + 2 * MINUTE,
      lastOk: true,
      lastError: null,
    });
    await recordCronFinish(svc(t + 3 * MINUTE), "reconcile", new Error("Stripe is down"));
    expect(await db().select().from(cronRuns).where(eq(cronRuns.cron, "reconcile")).get()).toMatchObject({ lastOk: false, lastError: "Error: Stripe is down" });
    await db().delete(cronRuns).where(eq(cronRuns.cron, "reconcile")).run();
  });

  it("is degraded, naming Stripe, when Stripe does not answer, and 200 all the same", async () => {
    const { healthReport } = await import("../../worker/src/monitoring/health");
    // Nothing listens on port 9: the connection is refused.
    const report = await healthReport(withVars({ STRIPE_API_BASE: "http://127.0.0.1:9" }, Date.now()));
    expect(report.status).toBe("degraded");
    expect(report.failing).toContain("stripe");
    expect(report.stripe).toMatchObject({ ok: false, error: "unreachable" });
    const rejected = await healthReport(withVars({ STRIPE_SECRET_KEY: "sk_test_not_the_emulators" }, Date.now()));
    expect(rejected.stripe).toMatchObject({ ok: false, error: "rejected" });
  });
});

describe("without D1", () => {
  it("is down, and reads nothing else", async () => {
    const { healthReport } = await import("../../worker/src/monitoring/health");
    const unreachable = new Proxy(env.DB, {
      get: () => () => {
        throw new Error("D1_ERROR: Network connection lost.");
      },
    });
    const report = await healthReport(svc(Date.now(), unreachable));
    expect(report).toEqual({ status: "down", failing: ["d1"], d1: { ok: false, latency_ms: expect.any(Number), error: "D1 query failed" }, warnings: [] });
  });
});

describe("the alert webhook", () => {
  it("posts exactly one signed alert per condition however many runs and isolates see it", async () => {
    // A failed payment in the last hour, a parked event, a broken audit chain, and crons that
    // have not run for a month: all seen half an hour after the renewal failed (its test clock's time).
    await makeKey("admin");
    const first = await db().select({ seq: auditLog.seq }).from(auditLog).orderBy(auditLog.seq).limit(1).get();
    await db().update(auditLog).set({ action: "tampered" }).where(eq(auditLog.seq, first!.seq)).run();
    // Half an hour after the failure, moved back when the runs below (up to 7 minutes later)
    // would cross into the next hourly alert window and rightly alert again.
    const halfHour = anchorAt + 30 * MINUTE;
    const at = halfHour % HOUR > 50 * MINUTE ? halfHour - 20 * MINUTE : halfHour;
    const t = { ...MONITORING_THRESHOLDS, failedPaymentSpike: { factor: 3, minFailures: 1 } };
    const vars = alertingTo("/ok/once");
    await Promise.all([monitorAndAlert(withVars(vars, at), t), monitorAndAlert(withVars(vars, at, env.DB_RACE), t)]);
    await monitorAndAlert(withVars(vars, at + 5 * MINUTE), t);

    const got = await received("once");
    const alerts = got.map((r) => JSON.parse(r.body) as AlertPayload);
    expect(alerts.map((a) => `${a.condition}:${a.subject ?? "-"}`).sort()).toEqual([
      "audit_chain_broken:-",
      "cron_overdue:dunning",
      "cron_overdue:reconcile",
      "cron_overdue:sweep",
      "events_parked:-",
      "failed_payments_spike:-",
    ]);
    for (const r of got) {
      expect(r.contentType).toBe("application/json");
      expect(await verifyAlertSignature(SECRET, r.body, r.signature, at)).toBe(true);
      expect(r.alertId).toBe((JSON.parse(r.body) as AlertPayload).id);
    }
    expect(alerts.find((a) => a.condition === "events_parked")).toMatchObject({ level: 1, details: { parked: 1, event_ids: [parked] } });
    expect(alerts.find((a) => a.condition === "failed_payments_spike")).toMatchObject({ details: { last_hour: 1, trailing_hourly_avg: 0 } });
    expect(alerts.find((a) => a.condition === "audit_chain_broken")).toMatchObject({ details: { seq: first!.seq, reason: "hash_mismatch" } });
    expect(await db().select({ n: sql<number>`count(*)` }).from(monitoringAlerts).where(eq(monitoringAlerts.status, "sent")).get()).toEqual({ n: 6 });

    // A second parked event raises the level: one more alert in the same window, then none.
    const more = await realEvent();
    await storeEvent(db(), webhookEvent(more), Date.now());
    await db().update(stripeEvents).set({ status: "parked", nextAttemptAt: null }).where(eq(stripeEvents.id, more.id)).run();
    await monitorAndAlert(withVars(vars, at + 6 * MINUTE), t);
    await monitorAndAlert(withVars(vars, at + 7 * MINUTE), t);
    const parkedAlerts = (await received("once")).map((r) => JSON.parse(r.body) as AlertPayload).filter((a) => a.condition === "events_parked");
    expect(parkedAlerts.map((a) => a.level)).toEqual([1, 2]);
  });

  it("verifies only the exact body, under the right secret, within five minutes", async () => {
    const [r] = await received("once");
    const now = Date.parse((JSON.parse(r!.body) as AlertPayload).detected_at);
    expect(await verifyAlertSignature(SECRET, r!.body, r!.signature, now)).toBe(true);
    expect(await verifyAlertSignature(SECRET, r!.body.replace('"level":', '"level": '), r!.signature, now)).toBe(false);
    expect(await verifyAlertSignature(`${SECRET}x`, r!.body, r!.signature, now)).toBe(false);
    expect(await verifyAlertSignature(SECRET, r!.body, r!.signature, now + 6 * MINUTE)).toBe(false);
    expect(await verifyAlertSignature(SECRET, r!.body, null, now)).toBe(false);
  });

  it("retries a failing endpoint on a later run, and never fails the cron for it", async () => {
    const at = anchorAt + 3 * DAY;
    const vars = alertingTo("/fail/1/retry");
    const first = await monitorAndAlert(withVars(vars, at));
    expect(first.raised.length).toBeGreaterThan(0);
    expect(first.delivery).toEqual({ sent: 0, retrying: first.raised.length, failed: 0 });
    // Not due yet: nothing sent.
    expect(await deliverAlerts(withVars(vars, at + 30_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(await deliverAlerts(withVars(vars, at + 61_000))).toEqual({ sent: first.raised.length, retrying: 0, failed: 0 });
    const got = await received("retry");
    expect(got.filter((r) => r.status === 500)).toHaveLength(first.raised.length);
    expect(
      got
        .filter((r) => r.status === 200)
        .map((r) => r.alertId)
        .sort(),
    ).toEqual(first.raised.map((a) => a.id).sort());

    // An endpoint that refuses connections: the minute cron still completes its jobs.
    const down = withVars({ ALERT_WEBHOOK_URL: "http://127.0.0.1:9/alerts", ALERT_WEBHOOK_SECRET: SECRET }, at + 2 * DAY);
    await expect(runCron(CRONS.sweep, down)).resolves.toBeUndefined();
    const waiting = await db().select().from(monitoringAlerts).where(eq(monitoringAlerts.status, "pending")).all();
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((a) => a.attempts === 1 && a.nextAttemptAt === at + 2 * DAY + MINUTE)).toBe(true);
  });
});

describe("alert retention", () => {
  it("the quarter-hour cron deletes alerts delivered or given up over 30 days ago, keeping any still owed to the endpoint, Idempotency-Keys past their day and the changes feed past its week", async () => {
    const t0 = Date.now();
    await db()
      .insert(idempotencyKeys)
      .values({
        apiKeyId: "key_retention",
        key: "old",
        method: "POST",
        path: "/v1/checkout",
        requestHash: "h",
        state: "done",
        claimToken: "t",
        createdAt: t0 - 25 * HOUR,
        claimedAt: t0 - 25 * HOUR,
        responseStatus: 201,
      });
    const [oldChange] = await db()
      .insert(entitlementChanges)
      .values([
        { userId: "user_retention_old", changedAt: t0 - 8 * DAY, status: "active", tier: "local" },
        { userId: "user_retention_new", changedAt: t0, status: "active", tier: "local" },
      ])
      .returning({ seq: entitlementChanges.seq });
    const row = (key: string, status: "pending" | "sent" | "failed", createdAt: number) => ({
      key,
      condition: "cron_overdue",
      subject: "retention-test",
      windowStart: createdAt,
      level: 1,
      payload: "{}",
      status,
      createdAt,
      nextAttemptAt: status === "pending" ? createdAt : null,
    });
    await db()
      .insert(monitoringAlerts)
      .values([
        row("ret-sent-old", "sent", t0 - 31 * DAY),
        row("ret-failed-old", "failed", t0 - 31 * DAY),
        row("ret-pending-old", "pending", t0 - 31 * DAY),
        row("ret-sent-recent", "sent", t0 - 29 * DAY),
      ]);
    await runCron(CRONS.dunning, svc(t0)).catch(() => {
      // The run's other jobs may fail on this file's deliberately broken state; only the prune is under test.
    });
    const left = (await db().select({ key: monitoringAlerts.key }).from(monitoringAlerts).where(eq(monitoringAlerts.subject, "retention-test")).all()).map((r) => r.key).sort();
    expect(left).toEqual(["ret-pending-old", "ret-sent-recent"]);
    expect(await db().select().from(idempotencyKeys).where(eq(idempotencyKeys.apiKeyId, "key_retention")).all()).toEqual([]);
    expect(await db().select().from(entitlementChanges).where(eq(entitlementChanges.seq, oldChange!.seq)).all()).toEqual([]);
  });
});

describe("the figures' queries", () => {
  it("read every big table through an index, never a scan", async () => {
    const { dunningBacklog, emailBacklog, failedPayments, parkedEvents, webhookLag } = await import("../../worker/src/monitoring/backlogs");
    // A D1 handle that records each statement and its bindings on the way through.
    const seen: { sql: string; params: unknown[] }[] = [];
    const recording = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare") {
          return (query: string) => {
            const stmt = target.prepare(query);
            const entry = { sql: query, params: [] as unknown[] };
            seen.push(entry);
            return new Proxy(stmt, { get: (s, p) => (p === "bind" ? (...args: unknown[]) => ((entry.params = args), s.bind(...args)) : (s as never)[p]) });
          };
        }
        const value = (target as never)[prop] as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const s = svc(Date.now(), recording);
    await Promise.all([webhookLag(s), parkedEvents(s), dunningBacklog(s), emailBacklog(s), failedPayments(s)]);
    expect(seen.length).toBe(8);
    for (const q of seen) {
      const plan = (
        await env.DB.prepare(`explain query plan ${q.sql}`)
          .bind(...q.params)
          .all<{ detail: string }>()
      ).results.map((r) => r.detail);
      expect(plan.length, q.sql).toBeGreaterThan(0);
      for (const step of plan) expect(step, q.sql).toMatch(/^SEARCH \w+ USING (COVERING )?INDEX \w+_idx/);
    }
  });
});
