/** A user's refunds from the mirror, newest first: made through the API or in the Stripe dashboard alike. */
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { refunds, type RefundReason } from "../db/schema";
import { DomainError } from "../errors";

/** A refund as the domain returns it; times in unix seconds. */
export interface RefundView {
  id: string;
  invoice_id: string | null;
  amount: number;
  currency: string;
  credit_note_id: string | null;
  /** Stripe's: pending, requires_action, succeeded, failed, canceled. */
  status: string;
  reason: RefundReason | null;
  created: number;
}

export interface RefundPage {
  data: RefundView[];
  has_more: boolean;
}

type RefundRow = typeof refunds.$inferSelect;

export function refundView(r: RefundRow): RefundView {
  return {
    id: r.id,
    invoice_id: r.invoiceId,
    amount: r.amount,
    currency: r.currency,
    credit_note_id: r.creditNoteId,
    status: r.status,
    reason: r.reason as RefundReason | null,
    created: Math.floor(r.createdAt / 1000),
  };
}

export async function listRefunds(db: Db, userId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<RefundPage> {
  const where = [eq(refunds.userId, userId)];
  if (opts.startingAfter !== undefined) {
    const cursor = await db
      .select({ id: refunds.id, createdAt: refunds.createdAt })
      .from(refunds)
      .where(and(eq(refunds.id, opts.startingAfter), eq(refunds.userId, userId)))
      .get();
    if (!cursor) {
      throw new DomainError("validation_failed", `The refund ${opts.startingAfter} is not one of this user's refunds.`, {
        errors: [{ field: "starting_after", message: "not a refund of this user" }],
      });
    }
    where.push(or(lt(refunds.createdAt, cursor.createdAt), and(eq(refunds.createdAt, cursor.createdAt), lt(refunds.id, cursor.id)))!);
  }
  const rows = await db
    .select()
    .from(refunds)
    .where(and(...where))
    .orderBy(desc(refunds.createdAt), desc(refunds.id))
    .limit(opts.limit + 1)
    .all();
  return { data: rows.slice(0, opts.limit).map(refundView), has_more: rows.length > opts.limit };
}
