/**
 * Past-due users whose grace ran out are suspended in the stored state too, not only when a
 * token is read: the stored row (and so analytics, the audit log and dunning) says `suspended`
 * with `suspended_at` = the end of the grace, audited once however many crons race for it.
 */
import { and, eq, isNotNull, lte } from "drizzle-orm";
import { clockTimes, entitlementClock, nowOfRow, onKnownTime } from "../test-clocks";
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor, AuditEntry } from "../audit";
import type { Db } from "../db/client";
import { entitlementAsRead, guard } from "../db/guard";
import { entitlements } from "../db/schema";
import type { Services } from "../services";
import { effectiveState, entitlementSummary, readEntitlementVersioned, upsertEntitlement, type EntitlementState } from "./state";

const BATCH = 100;

/**
 * The suspension of one user as of `now`, if their grace has run out: the guarded statements and
 * the audit entry, for the caller's audited batch (this cron, and dunning's day-21 stage).
 * `now` is the time the customer lives on (a Stripe test clock's in test mode); `writtenAt`, real
 * time, dates the row and its change in the feed. `state` is the user's state after it.
 */
export async function suspensionOf(
  db: Db,
  userId: string,
  now: number,
  actor: Actor,
  writtenAt: number = now,
): Promise<{ statements: BatchItem<"sqlite">[]; entries: AuditEntry[]; state: EntitlementState }> {
  const { state, version } = await readEntitlementVersioned(db, userId);
  const next = effectiveState(state, now);
  if (next.status === state.status) return { statements: [], entries: [], state };
  return {
    statements: [guard(db, entitlementAsRead(userId, version)), ...upsertEntitlement(db, next, writtenAt, version, state)],
    entries: [{ actor, action: "entitlement.suspended", subject: { type: "user", id: userId }, before: entitlementSummary(state), after: entitlementSummary(next) }],
    state: next,
  };
}

/**
 * Each past-due user's grace is compared with the time they live on: real time, or their test
 * clock's (each clock read once per run), in one query for all clocks. A user on a clock that
 * cannot be read waits for the next run. At most BATCH users per run; the rest follow.
 */
export async function suspendLapsed(s: Pick<Services, "db" | "clock" | "audit" | "stripe" | "log">): Promise<{ suspended: string[] }> {
  const pastDue = eq(entitlements.status, "past_due");
  const clocks = await s.db
    .selectDistinct({ clock: entitlementClock })
    .from(entitlements)
    .where(and(pastDue, isNotNull(entitlements.graceUntil), isNotNull(entitlementClock)))
    .all();
  const times = await clockTimes(
    s,
    clocks.map((c) => c.clock),
  );
  const rowNow = nowOfRow(times, entitlementClock);
  const due = await s.db
    .select({ userId: entitlements.userId, now: rowNow })
    .from(entitlements)
    .where(and(pastDue, onKnownTime(times, entitlementClock), lte(entitlements.graceUntil, rowNow)))
    .limit(BATCH)
    .all();
  const suspended: string[] = [];
  for (const { userId, now } of due) {
    const changed = await s.audit.commit(async () => {
      // Read again inside the commit: another cron or an event may have moved the row since.
      const { statements, entries } = await suspensionOf(s.db, userId, now, { type: "cron", id: "grace" }, s.clock.now());
      return { statements, entries, result: statements.length > 0 };
    });
    if (changed) suspended.push(userId);
  }
  return { suspended };
}
