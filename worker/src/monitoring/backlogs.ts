/**
 * What is piling up: each figure is ONE query through an index whose leading column is the
 * status (or outcome) it counts, so its cost follows the backlog, not the table. Shared by
 * `/health`, the alert checks and the compliance report; plain reads, never throwing on an empty
 * table. Ages are in seconds, times in Unix ms.
 */
import { and, eq, gte, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import { dunningCases, emailOutbox, paymentAttempts, stripeEvents } from "../db/schema";
import type { Services } from "../services";

type Deps = Pick<Services, "db" | "clock">;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface WebhookLag {
  /** Events stored and not yet processed (first try or retries). */
  pending: number;
  /** How long the oldest of them has waited since it reached us; null when none waits. */
  oldest_pending_age_s: number | null;
}

/** Through stripe_events_due_idx (status, next_attempt_at). */
export async function webhookLag(s: Deps): Promise<WebhookLag> {
  const row = await s.db
    .select({ n: sql<number>`count(*)`, oldest: sql<number | null>`min(${stripeEvents.receivedAt})` })
    .from(stripeEvents)
    .where(eq(stripeEvents.status, "pending"))
    .get();
  const oldest = row?.oldest ?? null;
  return { pending: Number(row?.n ?? 0), oldest_pending_age_s: oldest === null ? null : Math.max(0, Math.floor((s.clock.now() - oldest) / 1000)) };
}

export interface ParkedEvents {
  /** Events that used up their retries (stripe-sync/events.ts MAX_ATTEMPTS): nothing retries them until an admin replays them. */
  parked: number;
}

/** Through stripe_events_due_idx (status, ...), covering. */
export async function parkedEvents(s: Pick<Services, "db">): Promise<ParkedEvents> {
  const row = await s.db.select({ n: sql<number>`count(*)` }).from(stripeEvents).where(eq(stripeEvents.status, "parked")).get();
  return { parked: Number(row?.n ?? 0) };
}

/** A case is overdue once its stage is this late: the tick runs every 15 minutes, so two missed ticks. */
export const DUNNING_OVERDUE_MS = 30 * MINUTE;

export interface DunningBacklog {
  /** Open cases (a failed invoice being chased). */
  open: number;
  /** Cases whose next stage (or cancel after suspension) is more than `DUNNING_OVERDUE_MS` late. */
  overdue: number;
}

/**
 * `open` through dunning_cases_due_idx, `overdue` through dunning_cases_clock_due_idx. Cases on a
 * Stripe test clock are left out of `overdue`: their stages follow the clock's frozen time, not
 * ours (dunning/tick.ts), so our clock cannot say they are late.
 */
export async function dunningBacklog(s: Deps, overdueMs = DUNNING_OVERDUE_MS): Promise<DunningBacklog> {
  const [open, overdue] = await s.db.batch([
    s.db.select({ n: sql<number>`count(*)` }).from(dunningCases).where(eq(dunningCases.status, "open")),
    s.db
      .select({ n: sql<number>`count(*)` })
      .from(dunningCases)
      .where(and(inArray(dunningCases.status, ["open", "suspended"]), isNull(dunningCases.testClock), lt(dunningCases.nextActionAt, s.clock.now() - overdueMs))),
  ]);
  return { open: Number(open[0]?.n ?? 0), overdue: Number(overdue[0]?.n ?? 0) };
}

/** An email is late once it has been due this long: the sweep runs every minute. */
export const EMAIL_OVERDUE_MS = 10 * MINUTE;

export interface EmailBacklog {
  /** Waiting to be sent, or being sent (`pending`, `sending`). */
  pending: number;
  /** Of those, due for more than `EMAIL_OVERDUE_MS` (a transport down, or the sweep not running). */
  overdue: number;
  /** Gave up after their retries or a permanent refusal: never sent. */
  failed: number;
}

/** Three counts in one statement, each a range of email_outbox_due_idx (status, next_attempt_at). */
export async function emailBacklog(s: Deps, overdueMs = EMAIL_OVERDUE_MS): Promise<EmailBacklog> {
  const [pending, overdue, failed] = await s.db.batch([
    s.db
      .select({ n: sql<number>`count(*)` })
      .from(emailOutbox)
      .where(inArray(emailOutbox.status, ["pending", "sending"])),
    s.db
      .select({ n: sql<number>`count(*)` })
      .from(emailOutbox)
      .where(and(eq(emailOutbox.status, "pending"), lt(emailOutbox.nextAttemptAt, s.clock.now() - overdueMs))),
    s.db.select({ n: sql<number>`count(*)` }).from(emailOutbox).where(eq(emailOutbox.status, "failed")),
  ]);
  return { pending: Number(pending[0]?.n ?? 0), overdue: Number(overdue[0]?.n ?? 0), failed: Number(failed[0]?.n ?? 0) };
}

export interface FailedPayments {
  /** Failed payment attempts in the last hour. */
  last_hour: number;
  /** Failed attempts per hour over the 24 hours before that hour (the baseline a spike is measured against). */
  trailing_hourly_avg: number;
}

/**
 * Through payment_attempts_outcome_at_idx (outcome, at), covering. Attempts are dated by Stripe
 * (a test clock's customers by their clock), as the analytics read them.
 */
export async function failedPayments(s: Deps): Promise<FailedPayments> {
  const now = s.clock.now();
  const row = await s.db
    .select({
      lastHour: sql<number>`coalesce(sum(case when ${paymentAttempts.at} >= ${now - HOUR} then 1 else 0 end), 0)`,
      before: sql<number>`coalesce(sum(case when ${paymentAttempts.at} < ${now - HOUR} then 1 else 0 end), 0)`,
    })
    .from(paymentAttempts)
    .where(and(eq(paymentAttempts.outcome, "failed"), gte(paymentAttempts.at, now - 25 * HOUR), lte(paymentAttempts.at, now)))
    .get();
  return { last_hour: Number(row?.lastHour ?? 0), trailing_hourly_avg: Number(row?.before ?? 0) / 24 };
}
