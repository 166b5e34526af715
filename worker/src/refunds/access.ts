/**
 * Ending access after a refund: the subscription is cancelled at once in Stripe (no proration:
 * the refund already gave the money back), and the sync that follows mirrors the cancellation,
 * so the entitlement, MRR and the changes feed move with it.
 */
import { eq } from "drizzle-orm";
import type { Actor, AuditEntry } from "../audit";
import { subscriptions } from "../db/schema";
import type { Services } from "../services";
import { chargeOfInvoice, idOf, invoiceOfCharge, type Stripe } from "../stripe-sync";
import { decideAccess, overrideOf, refundPolicy, type RefundPolicy } from "./policy";

const LIVE = new Set<Stripe.Subscription.Status>(["active", "trialing", "past_due", "unpaid", "paused", "incomplete"]);

/** Whether the invoice pays for the subscription's current period: a line reaching its end. */
export function coversCurrentPeriod(inv: Stripe.Invoice, sub: Stripe.Subscription): boolean {
  const end = sub.items.data[0]?.current_period_end;
  if (end === undefined) return false;
  return inv.lines.data.some((l) => l.period.end >= end && l.amount > 0);
}

export interface AccessOutcome {
  endAccess: boolean;
  rule: string;
  /** The subscription cancelled now, null when access stays. */
  canceled: string | null;
  entries: AuditEntry[];
}

/** The policy's answer for a refund and the subscription it was asked about (null when the invoice has none). */
export interface RefundDecision {
  endAccess: boolean;
  rule: string;
  sub: Stripe.Subscription | null;
}

/**
 * Decides once what a refund does to access, so the credit note's metadata and the action taken
 * agree and the audit row names the rule that decided. Full means nothing of the invoice stays
 * paid: a credit to the customer's balance leaves nothing paid as a card refund does, so the
 * credited amount counts (`credited`, the invoice's credit notes after this refund) with the
 * card refunds made without a credit note (`outsideNotes`), which only the charge counts.
 */
export async function decideRefund(
  deps: Pick<Services, "stripe">,
  a: { inv: Stripe.Invoice; refunded: number; credited: number; outsideNotes: number; override: boolean | null },
  policy: RefundPolicy = refundPolicy,
): Promise<RefundDecision> {
  const subId = idOf(a.inv.parent?.subscription_details?.subscription ?? null);
  const sub = subId ? await deps.stripe.subscriptions.retrieve(subId) : null;
  const full = a.inv.amount_paid > 0 && a.inv.amount_paid - Math.max(a.refunded, a.credited + a.outsideNotes) <= 0;
  return { ...decideAccess(policy, { full, currentPeriod: sub !== null && coversCurrentPeriod(a.inv, sub), override: a.override }), sub };
}

/** What the charge had refunded without a credit note (in the dashboard, on the charge): the credit notes' refunds are in their amounts already. */
export function refundedOutsideNotes(charge: Stripe.Charge, notes: Stripe.CreditNote[]): number {
  const viaNotes = notes.filter((n) => n.status !== "void").reduce((sum, n) => sum + n.refunds.reduce((s, r) => s + r.amount_refunded, 0), 0);
  return Math.max(0, charge.amount_refunded - viaNotes);
}

/**
 * Acts on a decision for an invoice whose charge has `refunded` given back: cancels the
 * subscription when access ends and it is still live. `key` makes the cancellation idempotent in
 * Stripe across retries of the same decision.
 */
export async function applyRefundPolicy(
  deps: Pick<Services, "db" | "stripe">,
  who: Actor,
  a: { inv: Stripe.Invoice; refunded: number; decision: RefundDecision; key: string },
): Promise<AccessOutcome> {
  const { sub, ...decision } = a.decision;
  if (!decision.endAccess || !sub || !(await endAccessNow(deps, sub, { comment: `refund of invoice ${a.inv.id}: access ended (${decision.rule})`, key: a.key }))) {
    return { ...decision, canceled: null, entries: [] };
  }
  const row = await deps.db.select({ userId: subscriptions.userId }).from(subscriptions).where(eq(subscriptions.id, sub.id)).get();
  const userId = row?.userId ?? sub.metadata?.user_id ?? null;
  return {
    ...decision,
    canceled: sub.id,
    entries: [
      {
        actor: who,
        action: "refund.access_ended",
        subject: userId ? { type: "user", id: userId } : { type: "subscription", id: sub.id },
        before: { subscription: sub.id, status: sub.status },
        after: { subscription: sub.id, status: "canceled", invoice: a.inv.id, refunded: a.refunded, paid: a.inv.amount_paid, rule: decision.rule },
      },
    ],
  };
}

/**
 * Ends access now: the subscription is cancelled at once in Stripe, without proration or a final
 * invoice (the money went back, or the card's owner says they never agreed to pay), so the sync
 * that follows mirrors the cancellation into the entitlement, MRR and the changes feed. `key`
 * makes the cancellation idempotent in Stripe across retries of one decision. False when the
 * subscription is no longer live: nothing to end, and cancelling twice is a no-op.
 */
export async function endAccessNow(deps: Pick<Services, "stripe">, sub: Stripe.Subscription, a: { comment: string; key: string }): Promise<boolean> {
  if (!LIVE.has(sub.status)) return false;
  await deps.stripe.subscriptions.cancel(sub.id, { prorate: false, invoice_now: false, cancellation_details: { comment: a.comment } }, { idempotencyKey: `${a.key}:cancel` });
  return true;
}

/** Events that say money went back: a refund made anywhere (API, dashboard) is decided on by the same policy. */
const REFUND_EVENTS = new Set(["charge.refunded", "credit_note.created"]);

/**
 * The sync's event action (services.ts EventAction): a refund made outside the API (the Stripe
 * dashboard) is treated as the API treats one. What Stripe says now decides, not the payload:
 * the invoice, how much of its charge is refunded, and an `end_access` on a credit note or
 * refund. A refund made through the API already decided (its credit note says `end_access`),
 * and cancelling twice is a no-op: the subscription is no longer live.
 */
export async function refundEventAction(deps: Pick<Services, "db" | "stripe" | "clock" | "log">, event: Stripe.Event): Promise<{ subscriptions: string[]; entries: AuditEntry[] }> {
  if (!REFUND_EVENTS.has(event.type)) return { subscriptions: [], entries: [] };
  const obj = event.data.object as { id: string; object?: string; invoice?: string | { id: string } };
  let invoiceId: string | null = null;
  let chargeId: string | null = null;
  if (obj.object === "credit_note") invoiceId = idOf(obj.invoice ?? null);
  else if (obj.object === "charge") {
    chargeId = obj.id;
    invoiceId = await invoiceOfCharge(deps.stripe, await deps.stripe.charges.retrieve(obj.id));
  }
  if (!invoiceId) return { subscriptions: [], entries: [] };
  const inv = await deps.stripe.invoices.retrieve(invoiceId);
  if (inv.status !== "paid") return { subscriptions: [], entries: [] };
  chargeId = chargeId ?? (await chargeOfInvoice(deps.stripe, inv.id));
  if (!chargeId) return { subscriptions: [], entries: [] };
  const charge = await deps.stripe.charges.retrieve(chargeId);
  const notes = (await deps.stripe.creditNotes.list({ invoice: inv.id, limit: 100 })).data;
  const refunds = (await deps.stripe.refunds.list({ charge: chargeId, limit: 100 })).data;
  // The refund that made the charge what it is now decides: its credit note's end_access, else its own.
  // An earlier partial refund's "keep access" says nothing about a later one that completes it.
  const latest = refunds[0];
  const latestNote = latest ? notes.find((n) => n.refunds.some((r) => idOf(r.refund) === latest.id)) : undefined;
  const override = overrideOf(latestNote?.metadata) ?? overrideOf(latest?.metadata) ?? null;
  const decision = await decideRefund(deps, { inv, refunded: charge.amount_refunded, credited: inv.post_payment_credit_notes_amount, outsideNotes: refundedOutsideNotes(charge, notes), override });
  const outcome = await applyRefundPolicy(deps, { type: "stripe", id: event.id }, { inv, refunded: charge.amount_refunded, decision, key: `refund-policy:${chargeId}:${charge.amount_refunded}` });
  return { subscriptions: outcome.canceled ? [outcome.canceled] : [], entries: outcome.entries };
}
