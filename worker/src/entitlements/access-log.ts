/**
 * The access activity log: each allowed online check and each token issued that grants a
 * feature, counted per user and second on the customer's clock (db/schema.ts `access_checks`).
 * A dispute's evidence reads how often and when the user had access in the disputed period
 * (`accessActivity`); nothing but the user id the worker already has is kept.
 *
 * The write is one upsert, made after the answer (`defer`, the runtime's waitUntil), so a check
 * waits for no write; a write that fails is logged as failed deferred work, never dropped unseen.
 */
import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { deleteInBatches } from "../db/prune";
import { accessChecks, type AccessKind } from "../db/schema";
import { invalidInput } from "../errors";
import type { Services } from "../services";

/**
 * How long the log keeps a row: counted from the end of the billing period the check fell in,
 * so a dispute over any period can be answered. Card networks give a cardholder about 120 days
 * after the charge (a few, 540), and the evidence is due some 7 to 21 days after the dispute
 * opens: 180 days after the period's end leaves room for both.
 */
export const ACCESS_LOG_POLICY = { retainAfterPeriodEndDays: 180 } as const;

const DAY_MS = 86_400_000;

export interface AccessNote {
  userId: string;
  /** When (ms) on the customer's clock. */
  at: number;
  kind: AccessKind;
  /** The end (ms) of the billing period the entitlement is in, if it knows one. */
  periodEnd: number | null;
  /** When (ms) on real time: the retention runs on it, whatever the customer's clock. */
  recordedAt: number;
}

/** Adds one check to its (user, second, kind) counter. */
export async function recordAccess(db: Db, note: AccessNote): Promise<void> {
  const periodEnd = Math.max(note.periodEnd ?? note.at, note.at);
  const retainFrom = note.recordedAt + (periodEnd - note.at);
  await db
    .insert(accessChecks)
    .values({ userId: note.userId, second: Math.floor(note.at / 1000), kind: note.kind, count: 1, firstAt: note.at, lastAt: note.at, periodEnd, retainFrom })
    .onConflictDoUpdate({
      target: [accessChecks.userId, accessChecks.second, accessChecks.kind],
      set: {
        count: sql`${accessChecks.count} + 1`,
        firstAt: sql`min(${accessChecks.firstAt}, excluded.first_at)`,
        lastAt: sql`max(${accessChecks.lastAt}, excluded.last_at)`,
        periodEnd: sql`max(${accessChecks.periodEnd}, excluded.period_end)`,
        retainFrom: sql`max(${accessChecks.retainFrom}, excluded.retain_from)`,
      },
    })
    .run();
}

/** Records after the answer (waitUntil); a failed write is logged by `defer`. */
export function noteAccess(s: Pick<Services, "db" | "defer" | "clock">, note: Omit<AccessNote, "recordedAt">): void {
  s.defer(recordAccess(s.db, { ...note, recordedAt: s.clock.now() }));
}

export interface AccessActivity {
  /** Allowed online checks and feature-granting token issues in [from, to). */
  allowed: number;
  /** The first and last of them (ms, customer's clock); null when there were none. */
  firstAt: number | null;
  lastAt: number | null;
}

/**
 * The user's allowed checks and token issues in [from, to) (ms, the customer's clock), exactly:
 * the log counts per whole second, so both bounds must be whole seconds, as Stripe's periods are.
 */
export async function accessActivity(db: Db, q: { userId: string; from: number; to: number }): Promise<AccessActivity> {
  const row = await db
    .select({ allowed: sql<number | null>`sum(${accessChecks.count})`, firstAt: sql<number | null>`min(${accessChecks.firstAt})`, lastAt: sql<number | null>`max(${accessChecks.lastAt})` })
    .from(accessChecks)
    .where(inPeriod(q))
    .get();
  return { allowed: row?.allowed ?? 0, firstAt: row?.firstAt ?? null, lastAt: row?.lastAt ?? null };
}

/** The user's rows of the seconds in [from, to); both whole seconds, else the count could not be exact. */
function inPeriod(q: { userId: string; from: number; to: number }) {
  for (const [field, v] of [
    ["from", q.from],
    ["to", q.to],
  ] as const) {
    if (!Number.isSafeInteger(v) || v % 1000 !== 0)
      throw invalidInput(field, "must be a whole second", `The access log counts per second: ${field} must be a whole second (ms divisible by 1000), not ${v}.`);
  }
  if (q.to < q.from) throw invalidInput("to", "must not be before from", `The period ends (${q.to}) before it starts (${q.from}).`);
  return and(eq(accessChecks.userId, q.userId), gte(accessChecks.second, q.from / 1000), lt(accessChecks.second, q.to / 1000));
}

/** The allowed checks per UTC day of the customer's clock in [from, to): the log a dispute's evidence shows. */
export async function accessByDay(db: Db, q: { userId: string; from: number; to: number }): Promise<{ day: number; allowed: number; firstAt: number; lastAt: number }[]> {
  const where = inPeriod(q);
  const day = sql<number>`(${accessChecks.second} / 86400) * 86400000`;
  return db
    .select({ day, allowed: sql<number>`sum(${accessChecks.count})`, firstAt: sql<number>`min(${accessChecks.firstAt})`, lastAt: sql<number>`max(${accessChecks.lastAt})` })
    .from(accessChecks)
    .where(where)
    .groupBy(day)
    .orderBy(day)
    .all();
}

/**
 * Deletes the rows whose period ended more than the policy's retention ago (the quarter-hour
 * cron), on real time: each row's period end as real time saw it when written (`retain_from`), so
 * a test clock far behind real time does not lose its rows at once.
 */
export async function pruneAccessLog(s: Pick<Services, "db" | "clock">, policy: { retainAfterPeriodEndDays: number } = ACCESS_LOG_POLICY): Promise<number> {
  const cutoff = s.clock.now() - policy.retainAfterPeriodEndDays * DAY_MS;
  return deleteInBatches(s.db, accessChecks, sql`${accessChecks.retainFrom} < ${cutoff}`);
}
