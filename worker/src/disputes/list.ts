/** Disputes from the mirror, newest first, for GET /v1/disputes and the account's flags. */
import { and, eq, inArray, not, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { newestFirstPage } from "../db/page";
import { CLEARED_DISPUTE_STATUSES, disputes } from "../db/schema";
import { DomainError } from "../errors";

/** A dispute as the domain returns it; times in Unix ms. */
export interface DisputeView {
  id: string;
  charge_id: string;
  invoice_id: string | null;
  user_id: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: string;
  evidence_due_by: number | null;
  fee: number;
  created_at: number;
  closed_at: number | null;
}

export interface DisputePage {
  data: DisputeView[];
  has_more: boolean;
}

type DisputeRow = typeof disputes.$inferSelect;

export function disputeView(r: DisputeRow): DisputeView {
  return {
    id: r.id,
    charge_id: r.chargeId,
    invoice_id: r.invoiceId,
    user_id: r.userId,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    evidence_due_by: r.evidenceDueBy,
    fee: r.fee,
    created_at: r.createdAt,
    closed_at: r.closedAt,
  };
}

export interface DisputeFilter {
  status?: string | undefined;
  reason?: string | undefined;
  userId?: string | undefined;
}

export async function listDisputes(db: Db, filter: DisputeFilter, opts: { limit: number; startingAfter?: string | undefined }): Promise<DisputePage> {
  const where: SQL[] = [];
  if (filter.status !== undefined) where.push(eq(disputes.status, filter.status));
  if (filter.reason !== undefined) where.push(eq(disputes.reason, filter.reason));
  if (filter.userId !== undefined) where.push(eq(disputes.userId, filter.userId));
  const page = await newestFirstPage(
    db,
    disputes,
    where.length ? and(...where) : undefined,
    opts,
    (id) => new DomainError("validation_failed", `The dispute ${id} is not one of the disputes this filter lists.`, { errors: [{ field: "starting_after", message: "not a dispute of this list" }] }),
  );
  return { data: page.rows.map(disputeView), has_more: page.hasMore };
}

/** A flag on an account: a dispute the policy chose to flag rather than end access for. */
export interface AccountFlag {
  type: "dispute";
  dispute_id: string;
  reason: string;
  status: string;
  /** When the dispute was opened (Unix ms). */
  since: number;
}

/**
 * The user's flags: each dispute the policy flagged (`flag_account`) that the merchant has not
 * won, open or lost, newest first. A user with none has an empty list.
 */
export async function accountFlags(db: Db, userId: string): Promise<AccountFlag[]> {
  const rows = await db
    .select({ id: disputes.id, reason: disputes.reason, status: disputes.status, createdAt: disputes.createdAt })
    .from(disputes)
    .where(and(eq(disputes.userId, userId), eq(disputes.policyAction, "flag_account"), not(inArray(disputes.status, [...CLEARED_DISPUTE_STATUSES]))))
    .orderBy(disputes.createdAt)
    .all();
  return rows.reverse().map((r) => ({ type: "dispute", dispute_id: r.id, reason: r.reason, status: r.status, since: r.createdAt }));
}
