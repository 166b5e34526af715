/**
 * The subscription.*, invoice.* and refund.* events of a sync of the mirror, written in the sync's own batch
 * (a follower of stripe-sync/sync.ts, named in wiring.ts): the mirror's change and its event
 * commit together. The data is the API's own presenters' shape, built from the rows this batch
 * writes and the Stripe objects it fetched; what needs another Stripe call (the next invoice's
 * preview, a schedule's pending change) is null in an event: GET /v1/subscriptions/{user_id} has it.
 */
import { inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { invoices, paymentAttempts, type subscriptions } from "../db/schema";
import { outboxStatements, type OutboxEvent } from "../outbox";
import { presentInvoice, presentRefund, presentSubscription } from "../presenters";
import { refundView } from "../refunds";
import type { SyncFollower } from "../services";
import { invoiceView, lineOf, mirroredFields } from "../subscriptions";
import type { Stripe } from "../stripe-sync";

type SubRow = typeof subscriptions.$inferSelect;
type InvoiceRow = typeof invoices.$inferSelect;
const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

export function subscriptionData(row: SubRow & { userId: string }, stripeSub: Stripe.Subscription | undefined, openInvoice: InvoiceRow | undefined) {
  const discount = stripeSub?.discounts?.[0];
  const d = typeof discount === "object" && discount !== null ? discount : null;
  const coupon = d?.source?.coupon;
  const couponObj = typeof coupon === "object" && coupon !== null ? coupon : null;
  return presentSubscription({
    ...mirroredFields(row, row.userId),
    cancel_at: seconds(row.cancelAt),
    paused: row.pauseBehavior !== null,
    suspended: row.status === "unpaid",
    unpaid_invoice:
      (row.status === "past_due" || row.status === "unpaid") && openInvoice
        ? { invoice_id: openInvoice.id, amount_due: openInvoice.amountRemaining, currency: openInvoice.currency, hosted_invoice_url: openInvoice.hostedInvoiceUrl }
        : null,
    pending_change: null,
    discount: row.discount ? { coupon_id: row.discount, percent_off: couponObj?.percent_off ?? null, amount_off: couponObj?.amount_off ?? null, ends_at: d?.end ?? null } : null,
    next_invoice: null,
  });
}

export function invoiceData(row: InvoiceRow, inv: Stripe.Invoice | undefined) {
  return presentInvoice(invoiceView(row, inv?.number ?? null, inv?.lines?.data?.map(lineOf) ?? []));
}

export const outboundEventsOfSync: SyncFollower = async (s, { at, fetched, attempts, changed }) => {
  const now = s.clock.now();
  const events: OutboxEvent[] = [];
  const openInvoiceOf = (subId: string) => changed.invoices.map((c) => c.after).find((i) => i.subscriptionId === subId && i.status === "open");
  for (const { before, after } of changed.subscriptions) {
    if (after.userId === null) continue;
    const type = !before ? "subscription.created" : after.status === "canceled" && before.status !== "canceled" ? "subscription.canceled" : "subscription.updated";
    const row = { ...after, userId: after.userId };
    events.push({
      type,
      userId: after.userId,
      occurredAt: at,
      data: { user_id: after.userId, subscription: subscriptionData(row, fetched.subscriptions.get(after.id)?.sub, openInvoiceOf(after.id)) },
    });
  }
  for (const { before, after } of changed.invoices) {
    if (after.userId === null || after.status !== "paid" || before?.status === "paid") continue;
    events.push({ type: "invoice.paid", userId: after.userId, occurredAt: at, data: { user_id: after.userId, invoice: invoiceData(after, fetched.invoices.get(after.id)?.inv) } });
  }
  // A refund's row changes when Stripe's object does at all; only its status is news to a receiver.
  for (const { before, after } of changed.refunds) {
    if (after.userId === null || (before && before.status === after.status)) continue;
    events.push({ type: before ? "refund.updated" : "refund.created", userId: after.userId, occurredAt: at, data: { user_id: after.userId, refund: presentRefund(refundView(after)) } });
  }
  // A failed attempt is reported once: the batch that first records it (a replay finds it stored).
  const failures = attempts.filter((a) => a.outcome === "failed");
  if (failures.length > 0) {
    const ids = failures.map((f) => f.id);
    const stored = new Set((await s.db.select({ id: paymentAttempts.id }).from(paymentAttempts).where(inArray(paymentAttempts.id, ids)).all()).map((r) => r.id));
    const fresh = failures.filter((f) => !stored.has(f.id));
    const written = new Map(changed.invoices.map((c) => [c.after.id, c.after]));
    const missing = fresh.map((f) => f.invoiceId).filter((id) => !written.has(id));
    if (missing.length > 0) for (const r of await s.db.select().from(invoices).where(inArray(invoices.id, missing)).all()) written.set(r.id, r);
    for (const f of fresh) {
      const row = written.get(f.invoiceId);
      if (!row?.userId) continue;
      events.push({ type: "invoice.payment_failed", userId: row.userId, occurredAt: f.at, data: { user_id: row.userId, invoice: invoiceData(row, fetched.invoices.get(row.id)?.inv) } });
    }
  }
  const out: BatchItem<"sqlite">[] = [];
  for (const e of events) out.push(...outboxStatements(s.db, e, now));
  return out;
};
