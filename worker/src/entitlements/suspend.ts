/**
 * Past-due users whose grace ran out are suspended in the stored state too, not only when a
 * token is read: the stored row (and so analytics, the audit log and dunning) says `suspended`
 * with `suspended_at` = the end of the grace, audited once however many crons race for it.
 */
import { and, eq, lte } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor, AuditEntry } from "../audit/chain";
import type { Db } from "../db/client";
import { entitlementAsRead, guard } from "../db/guard";
import { entitlements } from "../db/schema";
import type { Services } from "../services";
import { effectiveState, entitlementSummary, readEntitlementVersioned, upsertEntitlement, type EntitlementState } from "./state";

const BATCH = 100;

/**
 * The suspension of one user as of `now`, if their grace has run out: the guarded statements and
 * the audit entry, for the caller's audited batch (this cron, and dunning's day-21 stage, which
 * passes a Stripe test clock's time). `state` is the user's state after it.
 */
export async function suspensionOf(db: Db, userId: string, now: number, actor: Actor): Promise<{ statements: BatchItem<"sqlite">[]; entries: AuditEntry[]; state: EntitlementState }> {
  const { state, version } = await readEntitlementVersioned(db, userId);
  const next = effectiveState(state, now);
  if (next.status === state.status) return { statements: [], entries: [], state };
  return {
    statements: [guard(db, entitlementAsRead(userId, version)), ...upsertEntitlement(db, next, now, version)],
    entries: [{ actor, action: "entitlement.suspended", subject: { type: "user", id: userId }, before: entitlementSummary(state), after: entitlementSummary(next) }],
    state: next,
  };
}

export async function suspendLapsed(s: Pick<Services, "db" | "clock" | "audit">): Promise<{ suspended: string[] }> {
  const now = s.clock.now();
  const due = await s.db
    .select({ userId: entitlements.userId })
    .from(entitlements)
    .where(and(eq(entitlements.status, "past_due"), lte(entitlements.graceUntil, now)))
    .limit(BATCH)
    .all();
  const suspended: string[] = [];
  for (const { userId } of due) {
    const changed = await s.audit.commit(async () => {
      // Read again inside the commit: another cron or an event may have moved the row since.
      const { statements, entries } = await suspensionOf(s.db, userId, now, { type: "cron", id: "grace" });
      return { statements, entries, result: statements.length > 0 };
    });
    if (changed) suspended.push(userId);
  }
  return { suspended };
}
