/**
 * A dispute's evidence on the wire: `POST /v1/disputes/{id}/evidence`'s answer and the
 * `dispute_summary` tool's. The evidence keeps Stripe's field names (what is sent is what is
 * shown); instants are RFC 3339.
 */
import { z } from "zod";
import type { EvidenceResult, DisputeEvidence } from "../evidence";
import { Instant, instant, instantOfSeconds } from "../instant";

const text = (what: string) => z.string().optional().describe(what);

export const DisputeEvidenceFields = z.object({
  customer_email_address: text("The customer's email, as Stripe has it"),
  customer_name: text("The customer's name, as Stripe has it"),
  product_description: text("The plan the invoice billed and what it gives"),
  service_date: Instant.optional().describe("When the disputed invoice's service period began (its end is in `access_activity_log` and `uncategorized_text`)"),
  access_activity_log: text("The allowed entitlement checks and token issues in the service period, per day"),
  cancellation_policy_disclosure: text("The cancellation terms, as Checkout showed them before the purchase"),
  refund_policy_disclosure: text("The refund terms, as Checkout showed them before the purchase"),
  uncategorized_text: text("A summary: sign-up time, service period, access, earlier undisputed payments, the terms shown"),
});

export const AccessChecks = z.object({
  allowed: z.int().nonnegative().describe("Allowed online checks and feature-granting token issues in the disputed invoice's service period"),
  first_at: Instant.nullable(),
  last_at: Instant.nullable(),
});

export const DisputeEvidenceAnswer = z.object({
  dispute_id: z.string(),
  submitted: z.boolean().describe("Whether Stripe shows the evidence as submitted to the card issuer (false: staged on the dispute)"),
  evidence: DisputeEvidenceFields,
  access_checks: AccessChecks,
});
export type DisputeEvidenceAnswerWire = z.output<typeof DisputeEvidenceAnswer>;

export const DisputeSummary = z.object({
  dispute_id: z.string(),
  status: z.string().describe("Stripe's: warning_needs_response, needs_response, under_review, won, lost, ..."),
  reason: z.string().describe("Stripe's: fraudulent, unrecognized, product_not_received, subscription_canceled, general, ..."),
  amount: z.int().describe("Integer cents of `currency`"),
  currency: z.string(),
  evidence_due_by: Instant.nullable(),
  invoice_id: z.string(),
  service_period: z.object({ start: Instant, end: Instant }),
  evidence: DisputeEvidenceFields.describe("What POST /v1/disputes/{id}/evidence would send now (nothing is sent)"),
  access_checks: AccessChecks,
});
export type DisputeSummaryWire = z.output<typeof DisputeSummary>;

const accessChecks = (b: Pick<DisputeEvidence, "access">) => ({
  allowed: b.access.allowed,
  first_at: b.access.firstAt === null ? null : instant(b.access.firstAt),
  last_at: b.access.lastAt === null ? null : instant(b.access.lastAt),
});

export function presentDisputeEvidence(r: EvidenceResult): DisputeEvidenceAnswerWire {
  return { dispute_id: r.dispute.id, submitted: r.submitted, evidence: { ...r.evidence }, access_checks: accessChecks(r) };
}

export function presentDisputeSummary(b: DisputeEvidence): DisputeSummaryWire {
  const due = b.dispute.evidence_details.due_by;
  return {
    dispute_id: b.dispute.id,
    status: b.dispute.status,
    reason: b.dispute.reason,
    amount: b.dispute.amount,
    currency: b.dispute.currency,
    evidence_due_by: due ? instantOfSeconds(due) : null,
    invoice_id: b.invoiceId,
    service_period: { start: instant(b.period.start), end: instant(b.period.end) },
    evidence: { ...b.evidence },
    access_checks: accessChecks(b),
  };
}
