/**
 * Past-due users whose grace ran out are suspended in the stored state too, not only when a
 * token is read: the stored row (and so analytics, the audit log and dunning) says `suspended`
 * with `suspended_at` = the end of the grace, audited once however many crons race for it.
 */
import { and, eq, lte } from "drizzle-orm";
import { entitlementAsRead, guard } from "../db/guard";
import { entitlements } from "../db/schema";
import type { Services } from "../services";
import { effectiveState, entitlementSummary, readEntitlementVersioned, upsertEntitlement } from "./state";

const BATCH = 100;

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
      const { state, version } = await readEntitlementVersioned(s.db, userId);
      const next = effectiveState(state, now);
      if (next.status === state.status) return { statements: [], entries: [], result: false };
      return {
        statements: [guard(s.db, entitlementAsRead(userId, version)), ...upsertEntitlement(s.db, next, now, version)],
        entries: [{ actor: { type: "cron", id: "grace" }, action: "entitlement.suspended", subject: { type: "user", id: userId }, before: entitlementSummary(state), after: entitlementSummary(next) }],
        result: true,
      };
    });
    if (changed) suspended.push(userId);
  }
  return { suspended };
}
