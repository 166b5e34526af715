/** A refund on the wire (POST and GET /v1/refunds): amounts in integer cents, the time as an RFC 3339 instant. */
import { z } from "zod";
import { REFUND_REASONS } from "../db/schema";
import { Instant, instantOfSeconds } from "../instant";
import type { RefundPage, RefundView } from "../refunds";

export const Refund = z.object({
  id: z.string().describe("Stripe's refund id (re_...)"),
  invoice_id: z.string().nullable(),
  amount: z.int().describe("Integer cents"),
  currency: z.string(),
  credit_note_id: z.string().nullable().describe("The Stripe credit note that accounts for the refund; null for a refund made in the dashboard without one"),
  status: z.string().describe("Stripe's: pending, requires_action, succeeded, failed, canceled"),
  reason: z.enum(REFUND_REASONS).nullable(),
  created_at: Instant,
});
export type RefundWire = z.output<typeof Refund>;

export function presentRefund(v: RefundView): RefundWire {
  return { id: v.id, invoice_id: v.invoice_id, amount: v.amount, currency: v.currency, credit_note_id: v.credit_note_id, status: v.status, reason: v.reason, created_at: instantOfSeconds(v.created)! };
}

export const RefundPageSchema = z.object({ data: z.array(Refund), has_more: z.boolean() });

export function presentRefundPage(p: RefundPage): z.output<typeof RefundPageSchema> {
  return { data: p.data.map(presentRefund), has_more: p.has_more };
}
