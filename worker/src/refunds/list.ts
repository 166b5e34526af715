/** A user's refunds from the mirror, newest first: made through the API or in the Stripe dashboard alike. */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { newestFirstPage } from "../db/page";
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
  const page = await newestFirstPage(
    db,
    refunds,
    eq(refunds.userId, userId),
    opts,
    (id) => new DomainError("validation_failed", `The refund ${id} is not one of this user's refunds.`, { errors: [{ field: "starting_after", message: "not a refund of this user" }] }),
  );
  return { data: page.rows.map(refundView), has_more: page.hasMore };
}
