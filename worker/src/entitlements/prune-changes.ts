import { sql } from "drizzle-orm";
import { deleteInBatches } from "../db/prune";
import { entitlementChanges } from "../db/schema";
import type { Services } from "../services";

/** How long the changes feed keeps a change: a reader away longer starts again from the head. */
export const CHANGES_RETENTION_MS = 7 * 86_400_000;

/**
 * Deletes the feed's changes older than a week (the quarter-hour cron), always as a prefix of the
 * sequence, never a row in the middle (a write's `changed_at` comes from its isolate's clock, so
 * it need not grow with `seq`), and never the newest row, which holds the head. The oldest kept
 * change then tells how far back a cursor may be (entitlements/changes.ts).
 */
export async function pruneEntitlementChanges(s: Pick<Services, "db" | "clock">): Promise<number> {
  const cutoff = s.clock.now() - CHANGES_RETENTION_MS;
  return deleteInBatches(
    s.db,
    entitlementChanges,
    sql`${entitlementChanges.seq} <= (SELECT max(seq) FROM entitlement_changes WHERE changed_at <= ${cutoff}) AND ${entitlementChanges.seq} < (SELECT max(seq) FROM entitlement_changes)`,
  );
}
