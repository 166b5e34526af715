/**
 * The Stripe event types the worker acts on: the one list that processing (`needsProcessing`),
 * `npm run stripe:setup` (the webhook endpoint's `enabled_events`) and `npm run doctor` (what the
 * endpoint must subscribe to) all read, so an endpoint can never miss a type processing needs.
 * Other well-formed events are still accepted and stored as processed (event-types.ts).
 */
export const HANDLED_EVENT_TYPES = [
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
  "customer.created",
  "customer.updated",
  "customer.deleted",
  "customer.discount.created",
  "customer.discount.updated",
  "customer.discount.deleted",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  "customer.subscription.trial_will_end",
  "customer.subscription.pending_update_applied",
  "customer.subscription.pending_update_expired",
  "invoice.created",
  "invoice.finalized",
  "invoice.updated",
  "invoice.paid",
  "invoice.payment_succeeded",
  "invoice.payment_failed",
  "invoice.payment_action_required",
  "invoice.marked_uncollectible",
  "invoice.voided",
  "invoice.deleted",
  "charge.refunded",
  "charge.refund.updated",
  "refund.created",
  "refund.updated",
  "refund.failed",
  "credit_note.created",
  "credit_note.updated",
  "credit_note.voided",
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.closed",
  "charge.dispute.funds_withdrawn",
  "charge.dispute.funds_reinstated",
  "radar.early_fraud_warning.created",
  "radar.early_fraud_warning.updated",
  "payment_method.attached",
  "payment_method.detached",
  "payment_method.updated",
  "payment_method.automatically_updated",
] as const;

export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

const HANDLED: ReadonlySet<string> = new Set(HANDLED_EVENT_TYPES);

/** Whether an event can change the mirror; others are stored (for replay and audit) as processed. */
export function isHandledEventType(type: string): type is HandledEventType {
  return HANDLED.has(type);
}
