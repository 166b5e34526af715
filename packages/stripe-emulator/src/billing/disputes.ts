import type Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import { invalidRequest } from "../errors.ts";
import { newId } from "../ids.ts";
import { clone } from "../store.ts";
import { testCardForToken } from "../cards.ts";
import { settleEarlyFraudWarnings } from "./fraud-warnings.ts";

/**
 * Disputes as Stripe's test mode makes them (https://docs.stripe.com/testing#disputes): a charge
 * paid with a dispute test card succeeds, then its issuer disputes it. A chargeback withdraws the
 * amount and the $15.00 dispute fee at once (`charge.dispute.funds_withdrawn`); an inquiry
 * (`warning_*` statuses) withdraws nothing until it is lost. Submitted evidence decides the
 * outcome as Stripe's test mode does: `uncategorized_text` "winning_evidence" wins (the amount and
 * the fee are reinstated, `charge.dispute.funds_reinstated`), "losing_evidence" loses; each closes
 * the dispute with `charge.dispute.closed`. Any other evidence leaves it under review.
 */

/** Stripe's dispute fee in the US: $15.00, withdrawn with the disputed amount. */
export const DISPUTE_FEE = 1500;

/** Days the merchant has to respond: Stripe's due_by is about a week out for a card dispute. */
const RESPONSE_DAYS = 7;

export const DISPUTE_REASONS = [
  "bank_cannot_process",
  "check_returned",
  "credit_not_processed",
  "customer_initiated",
  "debit_not_authorized",
  "duplicate",
  "fraudulent",
  "general",
  "incorrect_account_details",
  "insufficient_funds",
  "noncompliant",
  "product_not_received",
  "product_unacceptable",
  "subscription_canceled",
  "unrecognized",
] as const;

/** The card network's reason code a Visa dispute of each reason carries (what the issuer files). */
const VISA_REASON_CODE: Partial<Record<string, string>> = {
  fraudulent: "10.4",
  unrecognized: "10.4",
  product_not_received: "13.1",
  product_unacceptable: "13.3",
  subscription_canceled: "13.2",
  duplicate: "12.6.1",
  credit_not_processed: "13.6",
  general: "13.7",
};

const EMPTY_EVIDENCE: Stripe.Dispute.Evidence = {
  access_activity_log: null,
  billing_address: null,
  cancellation_policy: null,
  cancellation_policy_disclosure: null,
  cancellation_rebuttal: null,
  customer_communication: null,
  customer_email_address: null,
  customer_name: null,
  customer_purchase_ip: null,
  customer_signature: null,
  duplicate_charge_documentation: null,
  duplicate_charge_explanation: null,
  duplicate_charge_id: null,
  enhanced_evidence: {},
  product_description: null,
  receipt: null,
  refund_policy: null,
  refund_policy_disclosure: null,
  refund_refusal_explanation: null,
  service_date: null,
  service_documentation: null,
  shipping_address: null,
  shipping_carrier: null,
  shipping_date: null,
  shipping_documentation: null,
  shipping_tracking_number: null,
  uncategorized_file: null,
  uncategorized_text: null,
};

export type EvidenceField = Exclude<keyof Stripe.Dispute.Evidence, "enhanced_evidence" | "appeal">;
export const EVIDENCE_FIELDS = Object.keys(EMPTY_EVIDENCE).filter((k): k is EvidenceField => k !== "enhanced_evidence");

const idOf = (v: string | { id: string } | null | undefined): string | null => (v === null || v === undefined ? null : typeof v === "string" ? v : v.id);

function balanceTransaction(dispute: Stripe.Dispute, amount: number, fee: number, now: number, description: string, category: string): Stripe.BalanceTransaction {
  return {
    id: newId("txn"),
    object: "balance_transaction",
    amount,
    available_on: now,
    balance_type: "payments",
    created: now,
    currency: dispute.currency,
    description,
    exchange_rate: null,
    fee,
    fee_details: fee === 0 ? [] : [{ amount: fee, application: null, currency: dispute.currency, description: "Dispute fee", type: "stripe_fee" }],
    net: amount - fee,
    reporting_category: category,
    source: dispute.id,
    status: "available",
    type: "adjustment",
  };
}

function withdrawFunds(core: Core, dispute: Stripe.Dispute, now: number, request: RequestInfo | null): void {
  dispute.balance_transactions.push(balanceTransaction(dispute, -dispute.amount, DISPUTE_FEE, now, `Chargeback withdrawal for ${idOf(dispute.charge) ?? ""}`, "dispute"));
  dispute.is_charge_refundable = false;
  core.emit({ type: "charge.dispute.funds_withdrawn", data: { object: dispute } }, now, request);
}

/**
 * Opens a dispute on a succeeded charge, as the issuer does: the charge is marked disputed and
 * `charge.dispute.created` is emitted; a chargeback (not an inquiry) withdraws the funds and fee.
 */
export function openDispute(core: Core, charge: Stripe.Charge, args: { reason: string; inquiry: boolean }, now: number, request: RequestInfo | null): Stripe.Dispute {
  if (charge.status !== "succeeded") throw invalidRequest(`Charge ${charge.id} has not succeeded; only a paid charge can be disputed.`, "charge");
  if (charge.amount_captured - charge.amount_refunded <= 0) throw invalidRequest(`Charge ${charge.id} has nothing left to dispute.`, "charge");
  if ([...core.state.disputes.values()].some((d) => d.charge === charge.id)) throw invalidRequest(`Charge ${charge.id} has already been disputed.`, "charge", "charge_disputed");
  const brand = charge.payment_method_details?.card?.brand ?? "visa";
  const dispute: Stripe.Dispute = {
    id: newId("dp"),
    object: "dispute",
    amount: charge.amount_captured - charge.amount_refunded,
    balance_transactions: [],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: clone(EMPTY_EVIDENCE),
    evidence_details: { due_by: now + RESPONSE_DAYS * 86_400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0, submission_method: "not_submitted" },
    intended_submission_method: null,
    is_charge_refundable: args.inquiry,
    livemode: false,
    metadata: {},
    network_reason_code: VISA_REASON_CODE[args.reason] ?? null,
    payment_intent: idOf(charge.payment_intent),
    payment_method_details: { type: "card", card: { brand, case_type: args.inquiry ? "inquiry" : "chargeback", network: brand, network_reason_code: VISA_REASON_CODE[args.reason] ?? null } },
    reason: args.reason,
    status: args.inquiry ? "warning_needs_response" : "needs_response",
  };
  core.state.disputes.set(dispute.id, dispute);
  charge.disputed = true;
  core.emit({ type: "charge.dispute.created", data: { object: dispute } }, now, request);
  if (!args.inquiry) withdrawFunds(core, dispute, now, request);
  // A disputed charge's warnings can no longer prevent anything: Stripe makes them not actionable.
  settleEarlyFraudWarnings(core, charge, now, request);
  return dispute;
}

const CLOSED = new Set<string>(["won", "lost", "warning_closed"]);

export function isClosed(dispute: Stripe.Dispute): boolean {
  return CLOSED.has(dispute.status);
}

function close(core: Core, dispute: Stripe.Dispute, outcome: "won" | "lost", now: number, request: RequestInfo | null): void {
  const inquiry = dispute.status.startsWith("warning_");
  if (outcome === "won") {
    dispute.status = inquiry ? "warning_closed" : "won";
    if (!inquiry) {
      // Stripe gives back what it withdrew: the amount and, for a won chargeback, the fee.
      dispute.balance_transactions.push(balanceTransaction(dispute, dispute.amount, -DISPUTE_FEE, now, `Chargeback reversal for ${idOf(dispute.charge) ?? ""}`, "dispute_reversal"));
      core.emit({ type: "charge.dispute.funds_reinstated", data: { object: dispute } }, now, request);
    }
  } else {
    // A lost inquiry becomes a chargeback that is lost: the funds go then.
    if (inquiry) withdrawFunds(core, dispute, now, request);
    dispute.status = "lost";
  }
  core.emit({ type: "charge.dispute.closed", data: { object: dispute } }, now, request);
}

/**
 * `POST /v1/disputes/:id`: evidence merged field by field and metadata; `submit` (default true,
 * as on Stripe) sends it to the issuer, and then the test-mode outcome follows at once.
 */
export function updateDispute(
  core: Core,
  dispute: Stripe.Dispute,
  update: { evidence: Partial<Record<EvidenceField, string | null>> | undefined; metadata: Record<string, string> | undefined; submit: boolean },
  now: number,
  request: RequestInfo | null,
): Stripe.Dispute {
  const touchesEvidence = update.evidence !== undefined && Object.keys(update.evidence).length > 0;
  if (isClosed(dispute) && (touchesEvidence || update.submit)) {
    throw invalidRequest(`This dispute is already closed (${dispute.status}); its evidence can no longer be changed.`, "evidence");
  }
  if (dispute.status === "under_review" || dispute.status === "warning_under_review") {
    if (touchesEvidence || update.submit) throw invalidRequest("This dispute's evidence has already been submitted and is under review.", "evidence");
  }
  const before = clone(dispute);
  if (update.evidence) {
    for (const [key, value] of Object.entries(update.evidence)) dispute.evidence[key as EvidenceField] = value ?? null;
    dispute.evidence_details.has_evidence = EVIDENCE_FIELDS.some((k) => dispute.evidence[k] !== null);
  }
  if (update.metadata) dispute.metadata = update.metadata;
  const submitted = update.submit && !isClosed(dispute);
  if (submitted) {
    dispute.evidence_details.submission_count += 1;
    dispute.evidence_details.submission_method = "manual";
    dispute.status = dispute.status === "warning_needs_response" ? "warning_under_review" : "under_review";
  }
  core.emit({ type: "charge.dispute.updated", data: { object: dispute, previous_attributes: diff(before, dispute) } }, now, request);
  if (submitted) {
    const text = dispute.evidence.uncategorized_text;
    if (text === "winning_evidence") close(core, dispute, "won", now, request);
    else if (text === "losing_evidence") close(core, dispute, "lost", now, request);
  }
  return dispute;
}

/** `POST /v1/disputes/:id/close`: the merchant accepts the dispute, which is then lost. */
export function acceptDispute(core: Core, dispute: Stripe.Dispute, now: number, request: RequestInfo | null): Stripe.Dispute {
  if (isClosed(dispute)) throw invalidRequest(`This dispute is already closed (${dispute.status}).`, "dispute");
  close(core, dispute, "lost", now, request);
  return dispute;
}

/**
 * After a charge with a dispute test card is paid (and its invoice with it): the issuer's
 * dispute, as Stripe's test mode opens it once the payment has gone through.
 */
export function disputeIfTestCard(core: Core, charge: Stripe.Charge, now: number, request: RequestInfo | null): Stripe.Dispute | null {
  const token = core.state.paymentMethodTokens.get(idOf(charge.payment_method) ?? "");
  const dispute = token ? testCardForToken(token)?.dispute : undefined;
  if (!dispute || charge.status !== "succeeded" || charge.amount_captured <= 0) return null;
  return openDispute(core, charge, dispute, now, request);
}
