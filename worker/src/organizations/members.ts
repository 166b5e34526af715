/**
 * The members who hold an organization's seats. A seat is taken or given back in one D1 batch
 * with the member's entitlement (the better of the seat and their own plan), guarded on the seat
 * count as read: of two isolates taking the last seat at once, the second's batch fails its guard,
 * is built again on the new count, and is refused (409 `seats_exhausted`). So a token, an online
 * check and the changes feed see a seat the moment it is taken or released.
 */
import { and, count, desc, eq, lt, or, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { guard } from "../db/guard";
import { organizationMembers } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { entitlementPart } from "../stripe-sync";
import { organizationStatus, requireOrganization } from "./view";

export interface Member {
  orgId: string;
  userId: string;
  assignedAt: number;
}

export type MemberDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log">;

/** The seat count as read, for a guard: it has not changed since. */
const seatsTakenAre = (orgId: string, n: number) => sql`(select count(*) from organization_members where org_id = ${orgId}) = ${n}`;
const memberIs = (orgId: string, userId: string, present: boolean) =>
  present
    ? sql`exists (select 1 from organization_members where org_id = ${orgId} and user_id = ${userId})`
    : sql`not exists (select 1 from organization_members where org_id = ${orgId} and user_id = ${userId})`;
const seatsBoughtAre = (orgId: string, seats: number) => sql`(select seats from organizations where org_id = ${orgId}) = ${seats}`;

async function readMember(deps: Pick<Services, "db">, orgId: string, userId: string): Promise<Member | undefined> {
  return deps.db
    .select()
    .from(organizationMembers)
    .where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId)))
    .get();
}

/**
 * Gives the user a seat. Assigning a member again answers the same assignment (nothing written);
 * a term that ended is a 409 `conflict`; every seat taken a 409 `seats_exhausted`.
 */
export async function assignSeat(deps: MemberDeps, who: Actor, orgId: string, userId: string): Promise<Member> {
  return deps.audit.commit(async () => {
    const org = await requireOrganization(deps.db, orgId);
    const existing = await readMember(deps, orgId, userId);
    if (existing) return { statements: [], entries: [], result: existing };
    if ((await organizationStatus(deps.db, org)) !== "active") {
      throw new DomainError("conflict", `The term of ${orgId} has ended: renew it before assigning seats.`, { errors: [{ field: "org_id", message: "the term has ended" }] });
    }
    const taken = (await deps.db.select({ n: count() }).from(organizationMembers).where(eq(organizationMembers.orgId, orgId)).get())?.n ?? 0;
    if (taken >= org.seats) {
      throw new DomainError("seats_exhausted", `All ${org.seats} seats of ${orgId} are taken: release one (DELETE …/members/{user_id}) or buy more.`, {
        errors: [{ field: "user_id", message: "no seat left" }],
        extensions: { seats: org.seats, seats_assigned: taken },
      });
    }
    const now = deps.clock.now();
    const member: Member = { orgId, userId, assignedAt: now };
    const why = { actor: who, cause: "organization.seat_assigned", at: now };
    const access = await entitlementPart(deps, why, [userId], { userId, orgId, held: true });
    return {
      statements: [
        guard(deps.db, seatsTakenAre(orgId, taken)),
        guard(deps.db, memberIs(orgId, userId, false)),
        guard(deps.db, seatsBoughtAre(orgId, org.seats)),
        ...access.guards,
        deps.db.insert(organizationMembers).values(member),
        ...access.statements,
      ],
      entries: [
        { actor: who, action: "organization.seat_assigned", subject: { type: "organization", id: orgId }, after: { user_id: userId, seats: org.seats, seats_assigned: taken + 1 } },
        ...access.entries,
      ],
      result: member,
    };
  });
}

/** Gives the seat back: free again at once, and the user's access falls back to their own plan in the same batch. */
export async function releaseSeat(deps: MemberDeps, who: Actor, orgId: string, userId: string): Promise<void> {
  await deps.audit.commit(async () => {
    await requireOrganization(deps.db, orgId);
    if (!(await readMember(deps, orgId, userId))) {
      throw new DomainError("not_found", `${userId} holds no seat of ${orgId}.`, { errors: [{ field: "user_id", message: "holds no seat" }] });
    }
    const now = deps.clock.now();
    const access = await entitlementPart(deps, { actor: who, cause: "organization.seat_released", at: now }, [userId], { userId, orgId, held: false });
    return {
      statements: [
        guard(deps.db, memberIs(orgId, userId, true)),
        ...access.guards,
        deps.db.delete(organizationMembers).where(and(eq(organizationMembers.orgId, orgId), eq(organizationMembers.userId, userId))),
        ...access.statements,
      ],
      entries: [{ actor: who, action: "organization.seat_released", subject: { type: "organization", id: orgId }, before: { user_id: userId } }, ...access.entries],
      result: undefined,
    };
  });
}

export interface MemberPage {
  data: Member[];
  has_more: boolean;
}

/** Newest assignment first; the cursor is the last user id of the previous page (a member of the organization). */
export async function listMembers(deps: Pick<Services, "db">, orgId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<MemberPage> {
  await requireOrganization(deps.db, orgId);
  const scope = eq(organizationMembers.orgId, orgId);
  let after = undefined;
  if (opts.startingAfter !== undefined) {
    const cursor = await readMember(deps, orgId, opts.startingAfter);
    if (!cursor)
      throw new DomainError("validation_failed", `${opts.startingAfter} holds no seat of ${orgId}: start from the first page.`, {
        errors: [{ field: "starting_after", message: "not a member of the organization" }],
      });
    after = or(lt(organizationMembers.assignedAt, cursor.assignedAt), and(eq(organizationMembers.assignedAt, cursor.assignedAt), lt(organizationMembers.userId, cursor.userId)));
  }
  const rows = await deps.db
    .select()
    .from(organizationMembers)
    .where(and(scope, after))
    .orderBy(desc(organizationMembers.assignedAt), desc(organizationMembers.userId))
    .limit(opts.limit + 1)
    .all();
  return { data: rows.slice(0, opts.limit), has_more: rows.length > opts.limit };
}
