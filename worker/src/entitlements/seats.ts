/**
 * Seats an organization gave a user (organization_members): each grants the organization's tier
 * (agency) while the organization's subscription runs, read from the mirror beside the user's
 * own subscriptions, so the user's entitlement is the better of the two (entitlements/state.ts).
 */
import { and, eq, ne, sql } from "drizzle-orm";
import { builtOnce } from "../db/built-once";
import type { Db } from "../db/client";
import { organizationMembers, organizations, subscriptions } from "../db/schema";

type Sub = typeof subscriptions.$inferSelect;

/** One seat: the organization, and its subscription as the mirror has it (null before it has one). */
export interface Seat {
  orgId: string;
  subscription: Sub | null;
}

// Read for every user a sync touches, so built once (db/built-once.ts).
const seatsOf = builtOnce((db) =>
  db
    .select({ orgId: organizationMembers.orgId, subscription: subscriptions })
    .from(organizationMembers)
    .innerJoin(organizations, eq(organizations.orgId, organizationMembers.orgId))
    .leftJoin(subscriptions, eq(subscriptions.id, organizations.subscriptionId))
    // A suspended organization's seats (an invoice later than the policy allows) grant nothing.
    .where(and(eq(organizationMembers.userId, sql.placeholder("userId")), ne(organizations.status, "suspended")))
    .prepare(),
);

export async function readSeats(db: Db, userId: string): Promise<Seat[]> {
  const rows = await seatsOf(db).all({ userId });
  return rows.map((r) => ({ orgId: r.orgId, subscription: r.subscription }));
}

/** The members of the organizations whose subscriptions these are: their seats follow the subscription. */
export async function membersOfSubscriptions(db: Db, subscriptionIds: string[]): Promise<string[]> {
  if (subscriptionIds.length === 0) return [];
  const out = new Set<string>();
  for (const id of subscriptionIds) {
    const rows = await db
      .select({ userId: organizationMembers.userId })
      .from(organizationMembers)
      .innerJoin(organizations, eq(organizations.orgId, organizationMembers.orgId))
      .where(eq(organizations.subscriptionId, id))
      .all();
    for (const r of rows) out.add(r.userId);
  }
  return [...out];
}
