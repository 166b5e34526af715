/**
 * Cron dispatch. Every job is idempotent and bounded, so overlapping or repeated runs are safe.
 *   * * * * *    sweep: retry due webhook events; continue a resync in progress; suspend
 *                past-due users whose grace ran out; deliver the outbound webhooks that are
 *                due (the queue's safety net); send the email outbox's due emails (the disabled
 *                endpoints' among them); then sign a checkpoint of the audit chain's head if it moved
 *   *\/15 * * * * the sweep, then the dunning tick (dunning/tick.ts): stages, emails, suspension,
 *                then the organizations' renewal and overdue reminders (organizations/reminders.ts),
 *                then the outbound webhooks its stages made;
 *                then deletes Idempotency-Keys past their day, alerts delivered over 30 days ago
 *                and the entitlement changes feed's rows over a week old, and outbound events
 *                over 30 days old that owe no delivery, and the access log's rows of periods
 *                that ended over 180 days ago (entitlements/access-log.ts)
 *   17 3 * * *   reconciliation against Stripe's event list
 * The minute and quarter-hour crons end with the monitoring alerts (monitoring/alerts.ts), and
 * every run is recorded in cron_runs (start and end), which /health and the alerts read.
 */
import { checkpointAuditHead } from "./audit";
import { dueEvents, processEvent, reconcile, readResync, resyncChunk } from "./stripe-sync";
import { sendDueEmails } from "./email";
import { dunningTick } from "./dunning";
import { pruneIdempotencyKeys } from "./idempotency";
import { pruneAccessLog, pruneEntitlementChanges, suspendLapsed } from "./entitlements";
import { describeError } from "./log";
import { deliverDue, pruneOutbox } from "./outbound";
import { monitorAndAlert, pruneAlerts, recordCronFinish, recordCronStart } from "./monitoring";
import { organizationReminders } from "./organizations";
import type { Services } from "./services";

export const CRONS = { sweep: "* * * * *", dunning: "*/15 * * * *", reconcile: "17 3 * * *" } as const;
const SWEEP_BATCH = 50;

export async function sweep(s: Services): Promise<{ processed: number; retried: number }> {
  let processed = 0;
  let retried = 0;
  for (const id of await dueEvents(s.db, s.clock.now(), SWEEP_BATCH)) {
    const outcome = await processEvent(s, id);
    if (outcome === "processed") processed++;
    else if (outcome !== "skipped") retried++;
  }
  const resync = await readResync(s.db);
  if (resync && resync.phase !== "done") await resyncChunk(s);
  return { processed, retried };
}

export async function runCron(cron: string, s: Services): Promise<void> {
  const name = (Object.keys(CRONS) as (keyof typeof CRONS)[]).find((k) => CRONS[k] === cron);
  if (!name) {
    s.log.log("error", `no job for cron ${cron}; see worker/src/cron.ts`);
    return;
  }
  // Recording is best effort: a D1 hiccup writing cron_runs must not skip the jobs themselves.
  const record = (write: Promise<unknown>) => write.catch((e: unknown) => s.log.log("error", "could not record the cron run", { cron: name, error: describeError(e) }));
  await record(recordCronStart(s, name));
  let failure: { error: unknown } | undefined;
  try {
    await jobs(name, s);
  } catch (error) {
    failure = { error };
    throw error;
  } finally {
    await record(recordCronFinish(s, name, failure?.error ?? undefined, failure !== undefined));
  }
}

async function jobs(name: keyof typeof CRONS, s: Services): Promise<void> {
  // Alerts last, so they see what this run's jobs left behind.
  const alerts = () => monitorAndAlert(s);
  switch (name) {
    case "sweep":
      return independently([() => sweep(s), () => suspendLapsed(s), () => deliverDue(s), () => sendDueEmails(s), () => checkpointAuditHead(s), alerts]);
    case "dunning":
      return independently([
        () => sweep(s),
        () => suspendLapsed(s),
        () => dunningTick(s),
        () => organizationReminders(s),
        () => deliverDue(s),
        () => pruneIdempotencyKeys(s),
        () => pruneAlerts(s),
        () => pruneEntitlementChanges(s),
        () => pruneOutbox(s),
        () => pruneAccessLog(s),
        alerts,
      ]);
    case "reconcile":
      await reconcile(s);
  }
}

/**
 * Runs jobs one after another, each whether or not the one before failed (a Stripe outage that
 * fails the sweep must not stop the audit head being signed), then fails with what failed.
 * In order, so the checkpoint covers the rows the sweep just wrote.
 */
async function independently(jobs: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const job of jobs) await job().catch((e: unknown) => failures.push(e));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, "several cron jobs failed");
}
