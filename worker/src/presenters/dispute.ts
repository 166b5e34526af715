/** A dispute on the wire (GET /v1/disputes) and an account's flags: amounts in integer cents, times as RFC 3339 instants. */
import { z } from "zod";
import type { AccountFlag, DisputePage, DisputeView } from "../disputes";
import { Instant, instant, instantOrNull } from "../instant";

export const Dispute = z.object({
  id: z.string().describe("Stripe's dispute id (dp_...)"),
  charge_id: z.string(),
  invoice_id: z.string().nullable().describe("The invoice the disputed charge paid; null for a charge outside an invoice"),
  user_id: z.string().nullable(),
  amount: z.int().describe("Integer cents disputed"),
  currency: z.string(),
  reason: z.string().describe("Stripe's reason: fraudulent, unrecognized, product_not_received, duplicate, general, ..."),
  status: z.string().describe("Stripe's status: needs_response, under_review, won, lost, prevented, or an inquiry's warning_needs_response, warning_under_review, warning_closed"),
  evidence_due_by: Instant.nullable().describe("When evidence must reach Stripe; null once no response is possible"),
  fee: z.int().describe("Integer cents Stripe kept for the dispute: 1500 withdrawn with a chargeback, 0 once given back with a won one"),
  created_at: Instant,
  closed_at: Instant.nullable().describe("When the worker first saw the dispute won or lost; null while open"),
});
export type DisputeWire = z.output<typeof Dispute>;

export function presentDispute(v: DisputeView): DisputeWire {
  return {
    id: v.id,
    charge_id: v.charge_id,
    invoice_id: v.invoice_id,
    user_id: v.user_id,
    amount: v.amount,
    currency: v.currency,
    reason: v.reason,
    status: v.status,
    evidence_due_by: instantOrNull(v.evidence_due_by),
    fee: v.fee,
    created_at: instant(v.created_at),
    closed_at: instantOrNull(v.closed_at),
  };
}

export const DisputePageSchema = z.object({ data: z.array(Dispute), has_more: z.boolean() });

export function presentDisputePage(p: DisputePage): z.output<typeof DisputePageSchema> {
  return { data: p.data.map(presentDispute), has_more: p.has_more };
}

export const AccountFlagSchema = z.object({
  type: z.literal("dispute"),
  dispute_id: z.string(),
  reason: z.string(),
  status: z.string(),
  since: Instant.describe("When the dispute was opened"),
});

export function presentAccountFlags(flags: AccountFlag[]): z.output<typeof AccountFlagSchema>[] {
  return flags.map((f) => ({ type: f.type, dispute_id: f.dispute_id, reason: f.reason, status: f.status, since: instant(f.since) }));
}
