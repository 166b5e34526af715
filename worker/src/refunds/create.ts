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
import { chargeOfInvoice, emptyTargets, idOf, isMissing, syncObjects, type Stripe } from "../stripe-sync";
import { applyRefundPolicy, decideRefund, refundedOutsideNotes, type RefundDecision } from "./access";
import { describeError } from "../log";
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
  // Refunds made before this one without a credit note count too; most charges have none, and then nothing is listed.
  const notes = charge && charge.amount_refunded > 0 ? (await deps.stripe.creditNotes.list({ invoice: inv.id, limit: 100 })).data : [];
  const outsideNotes = charge ? refundedOutsideNotes(charge, notes) : 0;
  const decision = await decideRefund(deps, { inv, refunded, credited: inv.post_payment_credit_notes_amount + amount, outsideNotes, override: input.endAccess ?? null });
  // A retry of the same request (its Idempotency-Key) must get the credit note the first run made:
  // a key made of the invoice's state would change once that note exists and refund a second time.
  const key = who.idempotencyKey ? `refund:${who.idempotencyKey}` : `refund:${inv.id}:${inv.post_payment_credit_notes_amount}:${amount}:${input.reason}:${input.endAccess ?? "policy"}`;
  const note = await deps.stripe.creditNotes.create(
    {
      invoice: inv.id,
      amount,
      refund_amount: amount,
      reason: CREDIT_NOTE_REASON[input.reason],
      metadata: { refund_reason: input.reason, end_access: String(decision.endAccess) },
    },
    { idempotencyKey: key },
  );
  const refundId = idOf(note.refunds[0]?.refund ?? null);
  const view: RefundView = {
    id: refundId ?? note.id,
    invoice_id: inv.id,
    amount,
    currency: inv.currency,
    credit_note_id: note.id,
    status: "succeeded",
    reason: input.reason,
    created: note.created,
  };
  // The money has gone back: from here a failure must not fail the request, or the caller's
  // Idempotency-Key is freed and a retry refunds again. The credit note's own events decide and
  // mirror the same way later (its metadata carries the decision); the log says what was left.
  try {
    return await afterCreditNote(deps, who, { inv, input, amount, refunded, decision, key, chargeId, note, refundId, view });
  } catch (e) {
    deps.log.log("error", "refund made in Stripe, but acting on it failed: the credit note's events will finish it", {
      invoice: inv.id,
      credit_note: note.id,
      refund: view.id,
      end_access: decision.endAccess,
      rule: decision.rule,
      error: describeError(e),
    });
    return view;
  }
}

/** Ends access if decided, and mirrors the refund with its audit rows before the answer. */
async function afterCreditNote(
  deps: RefundDeps,
  who: Actor,
  a: {
    inv: Stripe.Invoice;
    input: RefundInput;
    amount: number;
    refunded: number;
    decision: RefundDecision;
    key: string;
    chargeId: string | null;
    note: Stripe.CreditNote;
    refundId: string | null;
    view: RefundView;
  },
): Promise<RefundView> {
  const { inv, input, amount, note } = a;
  const outcome = await applyRefundPolicy(deps, who, { inv, refunded: a.refunded, decision: a.decision, key: a.key });
  const refund = a.refundId ? await deps.stripe.refunds.retrieve(a.refundId) : null;
  const view: RefundView = { ...a.view, status: refund?.status ?? a.view.status, created: refund?.created ?? a.view.created };
  const targets = emptyTargets();
  targets.invoices.add(inv.id);
  if (a.chargeId) targets.charges.add(a.chargeId);
  if (a.decision.sub) targets.subscriptions.add(a.decision.sub.id);
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
