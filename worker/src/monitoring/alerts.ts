/**
 * The alert webhook, run by the minute cron (and the quarter-hour one, so a dead minute trigger
 * is still reported). Each run: detect the conditions, store an alert for each one not yet
 * alerted in its window (monitoring_alerts: the key is condition, subject, window and level, and
 * INSERT ... ON CONFLICT DO NOTHING keeps one however many isolates or runs see it), then post
 * the due alerts, signed. A failing endpoint leaves its alert pending with a backoff; a send
 * never outlasts its timeout, and nothing here fails the cron's other jobs.
 */
import { and, asc, desc, eq, inArray, isNotNull, lt, lte, or, sql } from "drizzle-orm";
import { disputeRatesOfMonth } from "../analytics";
import { verifyAuditChain } from "../audit";
import { cronRuns, monitoringAlerts, stripeEvents, webhookDeliveries, webhookEndpoints } from "../db/schema";
import { describeError } from "../log";
import type { Services } from "../services";
import { failedPayments, parkedEvents } from "./backlogs";
import { cronStatuses } from "./crons";
import { ALERT_SIGNATURE_HEADER, signAlert } from "./signature";
import { MONITORING_THRESHOLDS, type MonitoringThresholds } from "./thresholds";
import { instant, instantOrNull } from "../instant";

type Deps = Pick<Services, "db" | "clock" | "log" | "checkpointKey" | "alerting">;

export const ALERT_CONDITIONS = [
  "events_parked",
  "failed_payments_spike",
  "audit_chain_broken",
  "cron_overdue",
  "webhook_deliveries_parked",
  "webhook_endpoint_disabled",
  "dispute_rate_high",
] as const;
export type AlertConditionName = (typeof ALERT_CONDITIONS)[number];

export interface Detected {
  condition: AlertConditionName;
  /** What it is about (a cron's name); null when the condition is global. */
  subject: string | null;
  /** How far it has gone; within a window, only a higher level alerts again. */
  level: number;
  summary: string;
  details: Record<string, unknown>;
  /** The window's start (ms) when the condition has its own (a calendar month), instead of the threshold's fixed windows. */
  windowStart?: number;
}

/** The JSON body of an alert; `id` is stable across retries, so a receiver can drop duplicates. */
export interface AlertPayload extends Omit<Detected, "level"> {
  id: string;
  type: "billing.alert";
  level: number;
  window_start: string;
  detected_at: string;
  environment: string;
}

/** Delay before attempt n+1 after n failed sends; after the last, the alert is `failed`. */
export const ALERT_BACKOFF_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 3 * 3_600_000, 6 * 3_600_000] as const;
export const ALERT_SEND_TIMEOUT_MS = 5_000;
const ALERT_LEASE_MS = 60_000;
const ALERT_BATCH = 10;
const AUDIT_VERIFY = "audit_verify";

/** The conditions that hold now. Each check that fails is logged and skipped: one broken check must not silence the others. */
export async function detectConditions(s: Deps, t: MonitoringThresholds = MONITORING_THRESHOLDS): Promise<Detected[]> {
  const found: Detected[] = [];
  const attempt = async (name: string, check: () => Promise<void>) => check().catch((e: unknown) => s.log.log("error", "monitoring check failed", { check: name, error: describeError(e) }));

  await attempt("events_parked", async () => {
    const { parked } = await parkedEvents(s);
    if (parked === 0) return;
    const sample = await s.db.select({ id: stripeEvents.id }).from(stripeEvents).where(eq(stripeEvents.status, "parked")).limit(10).all();
    found.push({
      condition: "events_parked",
      subject: null,
      level: parked,
      summary: `${parked} Stripe event(s) used up their retries and are parked: the mirror is missing what they say. Fix the cause, then replay them (POST /v1/events/replay).`,
      details: { parked, event_ids: sample.map((r) => r.id) },
    });
  });

  // Outbound webhooks (worker/src/outbound): deliveries that used up their three days, and
  // endpoints disabled after failing for as long (an admin's own disabling is not alerted).
  await attempt("webhook_deliveries_parked", async () => {
    // Parked deliveries stay until someone retries them: count them, and name only a sample.
    const count = await s.db.select({ n: sql<number>`count(*)` }).from(webhookDeliveries).where(eq(webhookDeliveries.status, "parked")).get();
    const parked = Number(count?.n ?? 0);
    if (parked === 0) return;
    const sample = await s.db
      .select({ id: webhookDeliveries.id, endpointId: webhookDeliveries.endpointId, eventId: webhookDeliveries.eventId })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.status, "parked"))
      .orderBy(desc(webhookDeliveries.eventSeq))
      .limit(10)
      .all();
    found.push({
      condition: "webhook_deliveries_parked",
      subject: null,
      level: parked,
      summary: `${parked} outbound webhook deliver${parked === 1 ? "y" : "ies"} failed for three days and are parked: fix the receiver, then retry them (POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry) or replay the range.`,
      details: { parked, deliveries: sample.map((r) => ({ id: r.id, endpoint_id: r.endpointId, event_id: r.eventId })) },
    });
  });

  await attempt("webhook_endpoint_disabled", async () => {
    const rows = await s.db
      .select({ id: webhookEndpoints.id, url: webhookEndpoints.url, since: webhookEndpoints.failingSince })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.enabled, false), isNotNull(webhookEndpoints.failingSince)))
      .all();
    for (const r of rows)
      found.push({
        condition: "webhook_endpoint_disabled",
        subject: r.id,
        level: 1,
        summary: `The outbound webhook endpoint ${r.id} failed every delivery since ${instant(r.since!)} and is disabled: fix the receiver, enable it (PATCH enabled: true) and replay what it missed.`,
        details: { endpoint_id: r.id, failing_since: instant(r.since!) },
      });
  });

  await attempt("failed_payments_spike", async () => {
    const f = await failedPayments(s);
    const { factor, minFailures } = t.failedPaymentSpike;
    if (f.last_hour < minFailures || f.last_hour <= factor * f.trailing_hourly_avg) return;
    found.push({
      condition: "failed_payments_spike",
      subject: null,
      level: 1,
      summary: `${f.last_hour} failed payments in the last hour, against ${f.trailing_hourly_avg.toFixed(2)} an hour over the day before (alert above ${factor}× and at least ${minFailures}).`,
      details: { ...f, factor, min_failures: minFailures },
    });
  });

  // Disputes past the policy's share of the month's charges: once per month and currency (its window is the month).
  await attempt("dispute_rate_high", async () => {
    for (const r of await disputeRatesOfMonth(s.db, s.clock.now())) {
      if (r.rate === null || r.rate <= t.disputeRate.max) continue;
      found.push({
        condition: "dispute_rate_high",
        subject: `${r.currency}:${r.month}`,
        level: 1,
        windowStart: r.monthStart,
        summary: `${r.disputesOpened} dispute(s) over ${r.charges} charge(s) in ${r.month} (${r.currency}): a dispute rate of ${(r.rate * 100).toFixed(2)} %, past the policy's ${(t.disputeRate.max * 100).toFixed(2)} % (card networks start monitoring at about 0.75 %). Look at GET /v1/disputes and the early fraud warnings.`,
        details: { currency: r.currency, month: r.month, charges: r.charges, disputes_opened: r.disputesOpened, dispute_rate: Math.round(r.rate * 10_000) / 10_000, threshold: t.disputeRate.max },
      });
    }
  });

  await attempt("cron_overdue", async () => {
    for (const c of await cronStatuses(s)) {
      if (!c.overdue) continue;
      found.push({
        condition: "cron_overdue",
        subject: c.cron,
        level: 1,
        summary:
          c.last_started_at === null
            ? `The ${c.cron} cron has never run, while others have: check the triggers in wrangler.toml.`
            : `The ${c.cron} cron last started at ${instant(c.last_started_at)}: it is not running on time.`,
        details: { cron: c.cron, last_started_at: instantOrNull(c.last_started_at), last_ok: c.last_ok },
      });
    }
  });

  await attempt("audit_chain_broken", async () => {
    if (!(await claimAuditVerify(s, t))) return;
    const result = await verifyAuditChain(s);
    if (result.ok || !result.first_broken) return;
    found.push({
      condition: "audit_chain_broken",
      subject: null,
      level: 1,
      summary: `The audit log's hash chain is broken at seq ${result.first_broken.seq} (${result.first_broken.reason}): ${result.first_broken.detail}`,
      details: { seq: result.first_broken.seq, reason: result.first_broken.reason, rows_checked: result.rows_checked },
    });
  });
  return found;
}

/**
 * The whole chain is walked at most once per `auditVerifyEveryMs` across all isolates: the run
 * whose conditional upsert moves the marker does it. Between walks, the checkpoint cron already
 * checks each minute's new rows against the last signed head.
 */
async function claimAuditVerify(s: Pick<Services, "db" | "clock">, t: MonitoringThresholds): Promise<boolean> {
  const now = s.clock.now();
  const rows = await s.db
    .insert(cronRuns)
    .values({ cron: AUDIT_VERIFY, lastStartedAt: now })
    .onConflictDoUpdate({ target: cronRuns.cron, set: { lastStartedAt: now }, setWhere: sql`coalesce(${cronRuns.lastStartedAt}, 0) <= ${now - t.auditVerifyEveryMs}` })
    .returning({ cron: cronRuns.cron })
    .all();
  return rows.length === 1;
}

const windowStart = (now: number, ms: number) => Math.floor(now / ms) * ms;

/** Stores an alert for each condition not yet alerted at its level in its window; returns those stored. */
export async function raiseAlerts(s: Deps, detected: Detected[], t: MonitoringThresholds = MONITORING_THRESHOLDS): Promise<AlertPayload[]> {
  const now = s.clock.now();
  const raised: AlertPayload[] = [];
  const configured = s.alerting.ALERT_WEBHOOK_URL !== undefined;
  for (const d of detected) {
    const subject = d.subject ?? "-";
    const start = d.windowStart ?? windowStart(now, t.windowsMs[d.condition]);
    const prior = await s.db
      .select({ level: sql<number | null>`max(${monitoringAlerts.level})` })
      .from(monitoringAlerts)
      .where(and(eq(monitoringAlerts.condition, d.condition), eq(monitoringAlerts.subject, subject), eq(monitoringAlerts.windowStart, start)))
      .get();
    if (d.level <= (prior?.level ?? 0)) continue;
    const key = `${d.condition}:${subject}:${start}:${d.level}`;
    const { windowStart: _own, ...shown } = d;
    const payload: AlertPayload = { id: key, type: "billing.alert", ...shown, window_start: instant(start), detected_at: instant(now), environment: s.alerting.ENVIRONMENT };
    const stored = await s.db
      .insert(monitoringAlerts)
      .values({
        key,
        condition: d.condition,
        subject,
        windowStart: start,
        level: d.level,
        payload: JSON.stringify(payload),
        createdAt: now,
        // Without a URL the log line below is the alert; the row still stops it repeating.
        ...(configured ? { status: "pending" as const, nextAttemptAt: now } : { status: "failed" as const, lastError: "ALERT_WEBHOOK_URL is not set" }),
      })
      .onConflictDoNothing()
      .returning({ key: monitoringAlerts.key })
      .all();
    if (stored.length === 0) continue;
    s.log.log("warn", "alert", { alert_id: key, condition: d.condition, subject: d.subject, alert_level: d.level, summary: d.summary });
    raised.push(payload);
  }
  return raised;
}

export interface DeliveryResult {
  sent: number;
  retrying: number;
  failed: number;
}

/** Posts the due alerts, each under a lease taken by one conditional UPDATE (as the email sweep does). */
export async function deliverAlerts(s: Deps, limit = ALERT_BATCH): Promise<DeliveryResult> {
  const result: DeliveryResult = { sent: 0, retrying: 0, failed: 0 };
  const { ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_SECRET: secret } = s.alerting;
  if (!url || !secret) return result;
  const now = s.clock.now();
  const due = or(
    and(eq(monitoringAlerts.status, "pending"), lte(monitoringAlerts.nextAttemptAt, now)),
    and(eq(monitoringAlerts.status, "sending"), isNotNull(monitoringAlerts.leaseUntil), lt(monitoringAlerts.leaseUntil, now)),
  );
  const keys = s.db.select({ key: monitoringAlerts.key }).from(monitoringAlerts).where(due).orderBy(asc(monitoringAlerts.nextAttemptAt)).limit(limit);
  const rows = await s.db
    .update(monitoringAlerts)
    .set({ status: "sending", leaseUntil: now + ALERT_LEASE_MS, attempts: sql`${monitoringAlerts.attempts} + 1` })
    .where(and(inArray(monitoringAlerts.key, keys), due))
    .returning();
  for (const row of rows) {
    const held = and(eq(monitoringAlerts.key, row.key), eq(monitoringAlerts.status, "sending"), eq(monitoringAlerts.leaseUntil, row.leaseUntil!));
    let error: string | null = null;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [ALERT_SIGNATURE_HEADER]: await signAlert(secret, row.payload, s.clock.now()),
          "x-alert-id": row.key,
          "user-agent": "payment-integration-agent-alerts/1",
        },
        body: row.payload,
        redirect: "manual",
        signal: AbortSignal.timeout(ALERT_SEND_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (!res.ok) error = `the alert endpoint answered ${res.status}`;
    } catch (e) {
      error = describeError(e).slice(0, 500);
    }
    const at = s.clock.now();
    if (error === null) {
      await s.db.update(monitoringAlerts).set({ status: "sent", sentAt: at, leaseUntil: null, nextAttemptAt: null, lastError: null }).where(held).run();
      result.sent++;
      continue;
    }
    const giveUp = row.attempts > ALERT_BACKOFF_MS.length;
    await s.db
      .update(monitoringAlerts)
      .set({ status: giveUp ? "failed" : "pending", leaseUntil: null, lastError: error, nextAttemptAt: giveUp ? null : at + ALERT_BACKOFF_MS[row.attempts - 1]! })
      .where(held)
      .run();
    s.log.log(giveUp ? "error" : "warn", giveUp ? "alert not delivered; giving up" : "alert not delivered; will retry", { alert_id: row.key, attempts: row.attempts, error });
    if (giveUp) result.failed++;
    else result.retrying++;
  }
  return result;
}

/** The cron job: detect, raise, deliver. Never throws for a failing endpoint (it retries next run). */
export async function monitorAndAlert(s: Deps, t: MonitoringThresholds = MONITORING_THRESHOLDS): Promise<{ raised: AlertPayload[]; delivery: DeliveryResult }> {
  const raised = await raiseAlerts(s, await detectConditions(s, t), t);
  return { raised, delivery: await deliverAlerts(s) };
}
