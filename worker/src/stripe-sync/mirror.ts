/**
 * Stripe objects → mirror rows. Pure: Stripe's Unix seconds become our milliseconds, money
 * stays integer minor units, and MRR is normalised to a month with integer arithmetic.
 */
import { catalogPriceOf, monthsPerPeriod } from "../catalog";
import { isUserId } from "../entitlements";
import {
  INVOICE_STATUSES,
  REFUND_REASONS,
  SUBSCRIPTION_STATUSES,
  type creditNotes,
  type customers,
  type disputes,
  DISPUTE_POLICY_ACTIONS,
  type DisputePolicyAction,
  type invoiceLines,
  type invoices,
  type RefundReason,
  type refunds,
  type subscriptions,
} from "../db/schema";
import type { CouponTerms } from "./batch";
import type { Stripe } from "./stripe";

export type { CouponTerms };

export type CustomerRow = typeof customers.$inferSelect;
export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type InvoiceRow = typeof invoices.$inferSelect;
export type RefundRow = typeof refunds.$inferSelect;
export type CreditNoteRow = typeof creditNotes.$inferSelect;
export type DisputeRow = typeof disputes.$inferSelect;
export type InvoiceLineRow = typeof invoiceLines.$inferSelect;

const INTERVALS = ["day", "week", "month", "year"] as const;
const PAUSE_BEHAVIORS = ["keep_as_draft", "mark_uncollectible", "void"] as const;

/**
 * Stripe's types leave room for values added after this code was written; one we do not know
 * fails the event loudly (it is retried, then parked and visible) instead of being mis-mirrored.
 */
function known<const T extends readonly string[]>(allowed: T, value: string, what: string): T[number] {
  if ((allowed as readonly string[]).includes(value)) return value as T[number];
  throw new Error(`unknown ${what} ${JSON.stringify(value)} from Stripe`);
}

export const ms = (s: number | null | undefined): number | null => (s === null || s === undefined ? null : s * 1000);
export const idOf = (v: string | { id: string } | null | undefined): string | null => (v === null || v === undefined ? null : typeof v === "string" ? v : v.id);

/**
 * The payment method Stripe will charge and when its card stops working: the first instant (ms,
 * UTC) after its expiry month, as a card is valid through the end of that month. Only the
 * expiry is read from the card, so nothing of the card itself reaches the mirror.
 */
export function chargingCard(pm: string | Stripe.PaymentMethod | null | undefined, where: string): { defaultPaymentMethodId: string | null; cardExpiresAt: number | null } {
  if (pm === null || pm === undefined) return { defaultPaymentMethodId: null, cardExpiresAt: null };
  // An id alone would silently mirror "no expiry": every fetch expands it, so a bare id is a bug.
  if (typeof pm === "string") throw new Error(`${where} was fetched without expanding its payment method ${pm}`);
  const card = pm.type === "card" ? pm.card : undefined;
  return { defaultPaymentMethodId: pm.id, cardExpiresAt: card ? Date.UTC(card.exp_year, card.exp_month) : null };
}

/** Told of a `metadata.user_id` the API could never take (ignored, never stored). */
export type OnInvalidUserId = (object: { type: "customer" | "subscription"; id: string }) => void;

/**
 * The user id a Stripe object's metadata names, or null when it names none or one that is not a
 * user id of the app (anyone with dashboard access can type one): such an id would belong to
 * nobody, so it counts as absent and `onInvalid` hears of it.
 */
export function metadataUserId(object: { id: string; object: "customer" | "subscription"; metadata?: Stripe.Metadata | null }, onInvalid: OnInvalidUserId): string | null {
  const value = object.metadata?.user_id;
  // Stripe clears a metadata key set to "": no user id, not an invalid one.
  if (value === undefined || value === null || value === "") return null;
  if (isUserId(value)) return value;
  onInvalid({ type: object.object, id: object.id });
  return null;
}

export function customerRow(c: Stripe.Customer, syncedAt: number, knownUserId: string | null, onInvalid: OnInvalidUserId): CustomerRow {
  return {
    id: c.id,
    userId: metadataUserId(c, onInvalid) ?? knownUserId,
    email: c.email ?? null,
    name: c.name ?? null,
    country: c.address?.country ?? null,
    state: c.address?.state ?? null,
    currency: c.currency ?? null,
    ...chargingCard(c.invoice_settings?.default_payment_method, `customer ${c.id}`),
    testClock: idOf(c.test_clock ?? null),
    deleted: false,
    createdAt: c.created * 1000,
    syncedAt,
  };
}

/**
 * Monthly recurring revenue of one subscription, in cents: the price per month times quantity,
 * less the coupon. A yearly price counts a twelfth, a two- or three-year one a 24th or 36th (rounded half up to the cent).
 */
export function monthlyAmount(unitAmount: number, quantity: number, interval: string, intervalCount: number, coupon: CouponTerms | null): number {
  let perPeriod = unitAmount * quantity;
  if (coupon?.percentOff != null) perPeriod = perPeriod - Math.round((perPeriod * Math.round(coupon.percentOff * 100)) / 10_000);
  else if (coupon?.amountOff != null) perPeriod = Math.max(0, perPeriod - coupon.amountOff);
  const months = monthsPerPeriod(interval, intervalCount);
  if (months !== null && months > 0) return Math.round(perPeriod / months);
  // Day and week prices: per-day amount times an average month (365.25 / 12 days = 1461/48).
  const daysPerPeriod = (interval === "week" ? 7 : 1) * intervalCount;
  return Math.round((perPeriod * 1461) / (48 * daysPerPeriod));
}

export function subscriptionRow(s: Stripe.Subscription, userId: string | null, coupon: CouponTerms | null, syncedAt: number): SubscriptionRow {
  const item = s.items.data[0];
  if (!item) throw new Error(`subscription ${s.id} has no items`);
  const price = item.price;
  const inCatalog = catalogPriceOf(price);
  // The catalog's key even when it moved on to a newer price: the subscriber is still on this tier.
  const lookupKey = price.lookup_key ?? inCatalog?.price.lookupKey ?? null;
  const interval = known(INTERVALS, price.recurring?.interval ?? "month", "price interval");
  const intervalCount = price.recurring?.interval_count ?? 1;
  const unitAmount = price.unit_amount ?? 0;
  const quantity = item.quantity ?? 1;
  return {
    id: s.id,
    customerId: idOf(s.customer)!,
    userId,
    status: known(SUBSCRIPTION_STATUSES, s.status, "subscription status"),
    tier: inCatalog?.tier.key ?? null,
    priceId: price.id,
    lookupKey,
    interval,
    intervalCount,
    unitAmount,
    currency: price.currency,
    quantity,
    discount: coupon?.id ?? null,
    mrr: monthlyAmount(unitAmount, quantity, interval, intervalCount, coupon),
    cancelAtPeriodEnd: s.cancel_at_period_end,
    cancelAt: ms(s.cancel_at),
    pauseBehavior: s.pause_collection ? known(PAUSE_BEHAVIORS, s.pause_collection.behavior, "pause_collection behavior") : null,
    pauseResumesAt: ms(s.pause_collection?.resumes_at ?? null),
    scheduleId: idOf(s.schedule),
    canceledAt: ms(s.canceled_at),
    endedAt: ms(s.ended_at),
    trialStart: ms(s.trial_start),
    trialEnd: ms(s.trial_end),
    currentPeriodStart: ms(item.current_period_start),
    currentPeriodEnd: ms(item.current_period_end),
    ...chargingCard(s.default_payment_method, `subscription ${s.id}`),
    testClock: idOf(s.test_clock ?? null),
    createdAt: s.created * 1000,
    syncedAt,
  };
}

export function invoiceSubscriptionId(inv: Stripe.Invoice): string | null {
  return idOf(inv.parent?.subscription_details?.subscription ?? null);
}

export function invoiceRow(inv: Stripe.Invoice, userId: string | null, syncedAt: number): InvoiceRow {
  const sum = (xs: { amount: number }[] | null | undefined) => (xs ?? []).reduce((a, x) => a + x.amount, 0);
  return {
    id: inv.id,
    customerId: idOf(inv.customer)!,
    subscriptionId: invoiceSubscriptionId(inv),
    userId,
    status: known(INVOICE_STATUSES, inv.status ?? "draft", "invoice status"),
    billingReason: inv.billing_reason ?? null,
    currency: inv.currency,
    subtotal: inv.subtotal,
    tax: sum(inv.total_taxes),
    discountTotal: sum(inv.total_discount_amounts),
    total: inv.total,
    amountDue: inv.amount_due,
    amountPaid: inv.amount_paid,
    amountRemaining: inv.amount_remaining,
    amountCredited: inv.post_payment_credit_notes_amount,
    attemptCount: inv.attempt_count,
    periodStart: ms(inv.period_start),
    periodEnd: ms(inv.period_end),
    hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
    createdAt: inv.created * 1000,
    paidAt: ms(inv.status_transitions?.paid_at ?? null),
    syncedAt,
  };
}

/**
 * A finalized invoice's lines as revenue over service periods: each line's amount less its
 * discounts and any tax included in it (exclusive tax is on top of the amount, so never in it).
 * A draft's lines may still change, so it has none yet; lines of zero (a trial's) carry nothing.
 */
export function invoiceLineRows(inv: Stripe.Invoice): InvoiceLineRow[] {
  if ((inv.status ?? "draft") === "draft") return [];
  const sum = (xs: { amount: number }[] | null | undefined) => (xs ?? []).reduce((a, x) => a + x.amount, 0);
  return inv.lines.data
    .map((l) => ({
      id: l.id,
      invoiceId: inv.id,
      currency: l.currency,
      amount: l.amount - sum(l.discount_amounts) - sum((l.taxes ?? []).filter((t) => t.tax_behavior === "inclusive")),
      periodStart: l.period.start * 1000,
      periodEnd: l.period.end * 1000,
      proration: Boolean(l.parent?.subscription_item_details?.proration ?? l.parent?.invoice_item_details?.proration ?? false),
    }))
    .filter((l) => l.amount !== 0);
}

const HISTORY_FIELDS = [
  ["status", "status"],
  ["price", "priceId"],
  ["quantity", "quantity"],
  ["discount", "discount"],
] as const;

/** Which history-worthy fields differ; `created` for a subscription seen for the first time. */
export function historyChanges(before: SubscriptionRow | undefined, after: SubscriptionRow): string[] {
  if (!before) return ["created"];
  return HISTORY_FIELDS.filter(([, k]) => before[k] !== after[k]).map(([name]) => name);
}

/** Rows are equal when everything but the sync time is equal: nothing to write or audit. */
export function sameRow<T extends { syncedAt: number }>(a: T | undefined, b: T): boolean {
  if (!a) return false;
  return (Object.keys(b) as (keyof T)[]).every((k) => k === "syncedAt" || a[k] === b[k]);
}

/**
 * Why a refund was made, in the API's words: what POST /v1/refunds put in the credit note's
 * metadata, else Stripe's own refund reason when it is one of ours (a dashboard refund).
 */
export function refundReason(refund: Stripe.Refund, note: Stripe.CreditNote | null): RefundReason | null {
  const ours = (REFUND_REASONS as readonly string[]).find((r) => r === note?.metadata?.refund_reason || r === refund.metadata?.refund_reason);
  if (ours) return ours as RefundReason;
  return (REFUND_REASONS as readonly string[]).includes(refund.reason ?? "") ? (refund.reason as RefundReason) : null;
}

export function refundRow(
  r: Stripe.Refund,
  of: { invoiceId: string | null; subscriptionId: string | null; customerId: string | null; userId: string | null; creditNote: Stripe.CreditNote | null },
  syncedAt: number,
): RefundRow {
  return {
    id: r.id,
    chargeId: idOf(r.charge)!,
    invoiceId: of.invoiceId,
    subscriptionId: of.subscriptionId,
    creditNoteId: of.creditNote?.id ?? null,
    customerId: of.customerId,
    userId: of.userId,
    amount: r.amount,
    currency: r.currency,
    status: r.status ?? "pending",
    reason: refundReason(r, of.creditNote),
    createdAt: r.created * 1000,
    syncedAt,
  };
}

export function creditNoteRow(n: Stripe.CreditNote, userId: string | null, syncedAt: number): CreditNoteRow {
  return {
    id: n.id,
    invoiceId: idOf(n.invoice)!,
    customerId: idOf(n.customer)!,
    userId,
    number: n.number,
    status: n.status,
    amount: n.amount,
    refundAmount: n.refunds.reduce((sum, r) => sum + r.amount_refunded, 0),
    currency: n.currency,
    reason: n.reason ?? null,
    createdAt: n.created * 1000,
    syncedAt,
  };
}

/** Every line of an invoice: Stripe embeds the first ten only, and revenue and evidence need each line's period. */
export async function everyInvoiceLine(stripe: Stripe, inv: Stripe.Invoice): Promise<Stripe.InvoiceLineItem[]> {
  if (!inv.lines.has_more) return inv.lines.data;
  const all: Stripe.InvoiceLineItem[] = [];
  for await (const l of stripe.invoices.listLineItems(inv.id, { limit: 100 })) all.push(l);
  return all;
}

/** The invoice with every line in `lines` (see everyInvoiceLine). */
export async function withEveryLine(stripe: Stripe, inv: Stripe.Invoice): Promise<Stripe.Invoice> {
  return inv.lines.has_more ? { ...inv, lines: { ...inv.lines, data: await everyInvoiceLine(stripe, inv), has_more: false } } : inv;
}

/** The charge that paid an invoice: its paid invoice payment's PaymentIntent's latest charge. */
export async function chargeOfInvoice(stripe: Stripe, invoiceId: string): Promise<string | null> {
  const payments = await stripe.invoicePayments.list({ invoice: invoiceId, limit: 10 });
  for (const p of payments.data) {
    if (p.status !== "paid") continue;
    const pi = idOf(p.payment.payment_intent ?? null);
    if (!pi) continue;
    const intent = await stripe.paymentIntents.retrieve(pi);
    const charge = idOf(intent.latest_charge);
    if (charge) return charge;
  }
  return null;
}

/**
 * What a dispute disputes: its charge (fetched unless expanded) and the invoice that charge paid
 * (null outside an invoice). The one path from a dispute to its invoice; the invoice's
 * subscription is `invoiceSubscriptionId` of it.
 */
export async function disputedCharge(stripe: Stripe, dispute: Stripe.Dispute): Promise<{ charge: Stripe.Charge; invoiceId: string | null }> {
  const charge = typeof dispute.charge === "string" ? await stripe.charges.retrieve(dispute.charge) : dispute.charge;
  return { charge, invoiceId: await invoiceOfCharge(stripe, charge) };
}

/** The invoice a charge paid: its PaymentIntent's invoice payment, null for a charge outside an invoice. */
export async function invoiceOfCharge(stripe: Stripe, charge: Stripe.Charge): Promise<string | null> {
  const pi = idOf(charge.payment_intent);
  if (!pi) return null;
  const payment = (await stripe.invoicePayments.list({ payment: { type: "payment_intent", payment_intent: pi }, limit: 1 })).data[0];
  return payment ? idOf(payment.invoice) : null;
}

/** `metadata.access_policy` as the dispute policy writes it on the dispute; anything else is no decision. */
export function disputePolicyAction(d: Stripe.Dispute): DisputePolicyAction | null {
  const v = d.metadata?.access_policy;
  return (DISPUTE_POLICY_ACTIONS as readonly string[]).includes(v ?? "") ? (v as DisputePolicyAction) : null;
}

/**
 * A dispute as the mirror keeps it. `fee` nets its balance transactions' fees (the $15.00
 * withdrawn, given back when a chargeback is won); `closedAt` comes from the caller: the
 * `charge.dispute.closed` event's time (dispute-sync.ts), not the time of a sync.
 */
export function disputeRow(
  d: Stripe.Dispute,
  of: { chargeId: string; invoiceId: string | null; subscriptionId: string | null; customerId: string | null; userId: string | null; closedAt: number | null },
  syncedAt: number,
): DisputeRow {
  return {
    id: d.id,
    chargeId: of.chargeId,
    invoiceId: of.invoiceId,
    subscriptionId: of.subscriptionId,
    customerId: of.customerId,
    userId: of.userId,
    amount: d.amount,
    currency: d.currency,
    reason: d.reason,
    status: d.status,
    fee: d.balance_transactions.reduce((sum, t) => sum + t.fee, 0),
    evidenceDueBy: ms(d.evidence_details?.due_by),
    evidenceSubmitted: (d.evidence_details?.submission_count ?? 0) > 0,
    policyAction: disputePolicyAction(d),
    createdAt: d.created * 1000,
    closedAt: of.closedAt,
    syncedAt,
  };
}
