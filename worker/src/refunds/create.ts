/**
 * A refund through the API: a Stripe credit note with a refund on a paid invoice, so the
 * invoice, the refund and the books agree. Full when no amount is given; never more than the
 * invoice has paid and not yet had back (422 naming `amount`, nothing sent to Stripe). The
 * access policy decides before the credit note is made and the decision goes into its metadata,
 * so the credit note's own events, processed later, decide the same way.
 */
import type { Actor } from "../audit";
import type { RefundReason } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { chargeOfInvoice, emptyTargets, idOf, syncObjects, type Stripe } from "../stripe-sync";
import { applyRefundPolicy, coversCurrentPeriod } from "./access";
import { decideAccess, refundPolicy } from "./policy";
import type { RefundView } from "./list";

export interface RefundInput {
  invoiceId: string;
  amount?: number | undefined;
  reason: RefundReason;
  endAccess?: boolean | undefined;
}

/** Stripe's credit note reasons are others than the API's: the nearest one, the API's own kept in metadata. */
const CREDIT_NOTE_REASON: Record<RefundReason, Stripe.CreditNoteCreateParams.Reason> = {
  requested_by_customer: "order_change",
  duplicate: "duplicate",
  fraudulent: "fraudulent",
  service_issue: "product_unsatisfactory",
};

function isMissing(e: unknown): boolean {
  return (e as { code?: string })?.code === "resource_missing";
}

export type RefundDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

export async function createRefund(deps: RefundDeps, who: Actor, input: RefundInput): Promise<RefundView> {
  const inv = await deps.stripe.invoices.retrieve(input.invoiceId).catch((e: unknown) => {
    if (isMissing(e)) throw new DomainError("not_found", `There is no invoice ${input.invoiceId} in Stripe.`, { errors: [{ field: "invoice_id", message: "no such invoice" }] });
    throw e;
  });
  if (inv.status !== "paid") {
    throw new DomainError("conflict", `The invoice ${inv.id} is ${inv.status ?? "draft"}, not paid: there is nothing to refund.`, {
      errors: [{ field: "invoice_id", message: "the invoice is not paid" }],
    });
  }
  const chargeId = await chargeOfInvoice(deps.stripe, inv.id);
  const charge = chargeId ? await deps.stripe.charges.retrieve(chargeId) : null;
  // What was paid by card and not yet given back, by a credit note or a refund made elsewhere.
  const refundable = charge ? Math.max(0, Math.min(charge.amount_captured - charge.amount_refunded, inv.amount_paid - inv.post_payment_credit_notes_amount)) : 0;
  const amount = input.amount ?? refundable;
  if (refundable === 0 || amount > refundable) {
    throw new DomainError(
      "refund_exceeds_paid",
      refundable === 0
        ? `Nothing of the invoice ${inv.id} is left to refund: it paid ${inv.amount_paid} ${inv.currency} and that has been refunded or credited.`
        : `The invoice ${inv.id} has ${refundable} ${inv.currency} (integer cents) paid and not yet refunded; ask for at most that, or leave amount out for all of it.`,
      { errors: [{ field: "amount", message: `at most ${refundable}` }], extensions: { refundable, currency: inv.currency } },
    );
  }
  const refunded = (charge?.amount_refunded ?? 0) + amount;
  // Decided before the credit note exists, so its metadata can carry the decision to the events it causes.
  const subId = idOf(inv.parent?.subscription_details?.subscription ?? null);
  const decisionKey = `refund:${inv.id}:${inv.post_payment_credit_notes_amount}:${amount}:${input.reason}:${input.endAccess ?? "policy"}`;
  const preview = await previewDecision(deps, inv, refunded, input.endAccess ?? null);
  const note = await deps.stripe.creditNotes.create(
    {
      invoice: inv.id,
      amount,
      refund_amount: amount,
      reason: CREDIT_NOTE_REASON[input.reason],
      metadata: { refund_reason: input.reason, end_access: String(preview) },
    },
    { idempotencyKey: decisionKey },
  );
  const outcome = await applyRefundPolicy(deps, who, { inv, refunded, override: preview, key: decisionKey });
  const refundId = idOf(note.refunds[0]?.refund ?? null);
  const refund = refundId ? await deps.stripe.refunds.retrieve(refundId) : null;
  const targets = emptyTargets();
  targets.invoices.add(inv.id);
  if (chargeId) targets.charges.add(chargeId);
  if (subId) targets.subscriptions.add(subId);
  const view: RefundView = {
    id: refundId ?? note.id,
    invoice_id: inv.id,
    amount,
    currency: inv.currency,
    credit_note_id: note.id,
    status: refund?.status ?? "succeeded",
    reason: input.reason,
    created: refund?.created ?? note.created,
  };
  const userId = inv.parent?.subscription_details?.metadata?.user_id ?? null;
  await syncObjects(deps, { actor: who, cause: "refund.requested", at: note.created * 1000 }, targets, {
    entries: [
      {
        actor: who,
        action: "refund.requested",
        subject: userId ? { type: "user", id: userId } : { type: "invoice", id: inv.id },
        after: { invoice: inv.id, refund: view.id, credit_note: note.id, amount, currency: inv.currency, reason: input.reason, end_access: outcome.endAccess, rule: outcome.rule },
      },
      ...outcome.entries,
    ],
  });
  return view;
}

/** The policy's answer for this refund, without acting on it: what the credit note's metadata records. */
async function previewDecision(deps: Pick<Services, "stripe">, inv: Stripe.Invoice, refunded: number, override: boolean | null): Promise<boolean> {
  if (override !== null) return override;
  const subId = idOf(inv.parent?.subscription_details?.subscription ?? null);
  const sub = subId ? await deps.stripe.subscriptions.retrieve(subId) : null;
  return decideAccess(refundPolicy, { full: refunded >= inv.amount_paid && inv.amount_paid > 0, currentPeriod: sub !== null && coversCurrentPeriod(inv, sub), override: null }).endAccess;
}
