/**
 * A subscription on the wire: GET /v1/subscriptions/{user_id}, every lifecycle answer, the
 * `billing://subscriptions/{user_id}` MCP resource and create_subscription's existing
 * subscription all come out of here. The domain's views count in Stripe's Unix seconds; the
 * wire has RFC 3339 instants (worker/src/instant.ts).
 */
import { z } from "zod";
import type { CancelResult as CancelResultValue, ChangePreview as ChangePreviewValue, SubscriptionView } from "../subscriptions";
import { BILLING_CYCLES } from "../catalog";
import { SUBSCRIPTION_STATUSES } from "../db/schema";
import { presentRetentionOffer, RetentionOffer } from "./offer";
import { Instant, instantOfSeconds } from "../instant";

const BillingCycle = z.enum(BILLING_CYCLES);

export const Subscription = z.object({
  user_id: z.string(),
  subscription_id: z.string(),
  tier: z.string().nullable(),
  billing_cycle: BillingCycle.nullable(),
  status: z.enum(SUBSCRIPTION_STATUSES).describe("Stripe's subscription status"),
  trial_end: Instant.nullable(),
  current_period_start: Instant.nullable(),
  current_period_end: Instant.nullable(),
  cancel_at_period_end: z.boolean(),
  cancel_at: Instant.nullable(),
  paused: z.boolean().describe("Payment collection is paused"),
  suspended: z.boolean().describe("Access is suspended because an invoice stayed unpaid (dunning): show the subscription as suspended, and paying `unpaid_invoice` restores access at once"),
  unpaid_invoice: z
    .object({
      invoice_id: z.string(),
      amount_due: z.int().describe("Integer cents left to pay (Stripe's amount_remaining)"),
      currency: z.string(),
      hosted_invoice_url: z.string().nullable().describe("Stripe's hosted page where the customer pays this invoice"),
    })
    .nullable()
    .describe("The oldest open invoice of a past_due or unpaid subscription, as Stripe has it; null when nothing is due"),
  pending_change: z
    .object({ tier: z.string().nullable(), billing_cycle: BillingCycle.nullable(), effective_at: Instant })
    .nullable()
    .describe("The next phase of a subscription schedule, when its price differs"),
  discount: z.object({ coupon_id: z.string(), percent_off: z.number().nullable(), amount_off: z.int().nullable(), ends_at: Instant.nullable() }).nullable(),
  next_invoice: z
    .object({ amount_due: z.int().describe("Integer cents"), tax: z.int().describe("Integer cents"), currency: z.string(), date: Instant.nullable() })
    .nullable()
    .describe("Stripe's preview of the next invoice; null for a canceled subscription"),
});
export type SubscriptionWire = z.output<typeof Subscription>;

export function presentSubscription(v: SubscriptionView): SubscriptionWire {
  return {
    user_id: v.user_id,
    subscription_id: v.subscription_id,
    tier: v.tier,
    billing_cycle: v.billing_cycle,
    status: v.status,
    trial_end: instantOfSeconds(v.trial_end),
    current_period_start: instantOfSeconds(v.current_period_start),
    current_period_end: instantOfSeconds(v.current_period_end),
    cancel_at_period_end: v.cancel_at_period_end,
    cancel_at: instantOfSeconds(v.cancel_at),
    paused: v.paused,
    suspended: v.suspended,
    unpaid_invoice: v.unpaid_invoice && { ...v.unpaid_invoice },
    pending_change: v.pending_change && { tier: v.pending_change.tier, billing_cycle: v.pending_change.billing_cycle, effective_at: instantOfSeconds(v.pending_change.effective_at)! },
    discount: v.discount && { ...v.discount, ends_at: instantOfSeconds(v.discount.ends_at) },
    next_invoice: v.next_invoice && { ...v.next_invoice, date: instantOfSeconds(v.next_invoice.date) },
  };
}

/** The few fields an agent needs to tell what a user already has (create_subscription). */
export const SubscriptionSummary = Subscription.pick({ subscription_id: true, tier: true, billing_cycle: true, status: true, trial_end: true, current_period_end: true, cancel_at_period_end: true });
export type SubscriptionSummaryWire = z.output<typeof SubscriptionSummary>;

/** The summary of a view, or of Stripe's own subscription in the same Unix seconds. */
export function presentSubscriptionSummary(
  v: Pick<SubscriptionView, "subscription_id" | "tier" | "billing_cycle" | "trial_end" | "current_period_end" | "cancel_at_period_end"> & { status: SubscriptionSummaryWire["status"] },
): SubscriptionSummaryWire {
  return {
    subscription_id: v.subscription_id,
    tier: v.tier,
    billing_cycle: v.billing_cycle,
    status: v.status,
    trial_end: instantOfSeconds(v.trial_end),
    current_period_end: instantOfSeconds(v.current_period_end),
    cancel_at_period_end: v.cancel_at_period_end,
  };
}

export const ChangePreview = z.object({
  effective: z.enum(["now", "period_end"]),
  amount_due_now: z.int().describe("Integer cents charged at once (Stripe's preview)"),
  lines: z.array(z.object({ description: z.string(), amount: z.int().describe("Integer cents") })).describe("The lines charged now, as Stripe words and rounds them"),
  next_invoice_amount: z.int().describe("Integer cents of the next invoice after the change (Stripe's preview)"),
  currency: z.string(),
  proration_date: Instant.describe("The moment the proration was computed for (whole seconds, as Stripe counts); send it back with the change"),
});
export type ChangePreviewWire = z.output<typeof ChangePreview>;

export function presentChangePreview(p: ChangePreviewValue): ChangePreviewWire {
  return { ...p, lines: p.lines.map((l) => ({ ...l })), proration_date: instantOfSeconds(p.proration_date)! };
}

export const CancelResult = z.union([
  z.object({ canceled: z.literal(false), offer: RetentionOffer }),
  z.object({ canceled: z.literal(true), cancel_at: Instant.nullable().describe("When the subscription ends (the period end)") }),
]);
export type CancelResultWire = z.output<typeof CancelResult>;

export function presentCancelResult(r: CancelResultValue): CancelResultWire {
  return r.canceled ? { canceled: true, cancel_at: instantOfSeconds(r.cancel_at) } : { canceled: false, offer: presentRetentionOffer(r.offer) };
}
