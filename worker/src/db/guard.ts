/**
 * Compare-and-set for derived writes. A writer reads rows, computes what follows from them (an
 * entitlement from subscriptions, a history row from a status change), and commits one batch.
 * Another isolate may commit in between. Each read the writer relied on becomes a guard
 * statement at the head of its batch: "still as read, or fail". A failed guard is a CHECK
 * violation (`stale_read`, see `writeGuards` in schema.ts), D1 rolls the whole batch back, and
 * the writer reads again and recomputes (audit/append.ts retries it).
 */
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { writeGuards } from "./schema";

/** A statement that fails its batch unless `stillTrue` holds when the batch runs. */
export function guard(db: Db, stillTrue: SQL) {
  return db.insert(writeGuards).select(sql`select 0 where not (${stillTrue})`);
}

export function isStaleRead(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error) + String((error as { cause?: unknown })?.cause ?? "");
  return /CHECK constraint failed: stale_read/.test(text);
}

type Mirrored = "customers" | "subscriptions" | "invoices" | "refunds" | "credit_notes" | "disputes";

/** The mirror row `id` is absent (syncedAt undefined) or was last written by the fetch at `syncedAt`. */
export function rowAsRead(table: Mirrored, id: string, syncedAt: number | undefined): SQL {
  return sql`(select synced_at from ${sql.identifier(table)} where id = ${id}) is ${syncedAt ?? null}`;
}

/** The user's entitlement row is absent (version undefined) or still at `version`. */
export function entitlementAsRead(userId: string, version: number | undefined): SQL {
  return sql`(select version from entitlements where user_id = ${userId}) is ${version ?? null}`;
}

/** The user has exactly these subscriptions, each as last written at its `syncedAt`. */
export function userSubscriptionsAsRead(userId: string, rows: { id: string; syncedAt: number }[]): SQL {
  const fingerprint =
    rows.length === 0
      ? null
      : [...rows]
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .map((r) => `${r.id}:${r.syncedAt}`)
          .join(",");
  return sql`(select group_concat(id || ':' || synced_at, ',') from (select id, synced_at from subscriptions where user_id = ${userId} order by id)) is ${fingerprint}`;
}

/**
 * The user holds exactly these seats, each organization's subscription as last written at its
 * `syncedAt` (null: the organization has none yet): the seats an entitlement was derived from
 * (a suspended organization's left out, as entitlements/seats.ts's readSeats leaves them).
 */
export function userSeatsAsRead(userId: string, rows: { orgId: string; syncedAt: number | null }[]): SQL {
  const fingerprint =
    rows.length === 0
      ? null
      : [...rows]
          .sort((a, b) => (a.orgId < b.orgId ? -1 : 1))
          .map((r) => `${r.orgId}:${r.syncedAt ?? ""}`)
          .join(",");
  return sql`(select group_concat(org_id || ':' || coalesce(synced_at, ''), ',') from (select m.org_id, s.synced_at from organization_members m join organizations o on o.org_id = m.org_id left join subscriptions s on s.id = o.subscription_id where m.user_id = ${userId} and o.status <> 'suspended' order by m.org_id)) is ${fingerprint}`;
}
