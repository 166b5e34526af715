import { z } from "@hono/zod-openapi";
import { SUBSCRIPTION_STATUSES } from "../../db/schema";
import { BillingCycle, TierKey, UserId } from "../../fields";

export const UnixSeconds = z.int().describe("Unix time in seconds");

export const UserIdParam = z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) });

export const SubscriptionView = z
  .object({
    user_id: z.string(),
    subscription_id: z.string(),
    tier: z.string().nullable(),
    billing_cycle: BillingCycle.nullable(),
    status: z.enum(SUBSCRIPTION_STATUSES).describe("Stripe's subscription status"),
    trial_end: UnixSeconds.nullable(),
    current_period_start: UnixSeconds.nullable(),
    current_period_end: UnixSeconds.nullable(),
    cancel_at_period_end: z.boolean(),
    cancel_at: UnixSeconds.nullable(),
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
      .object({ tier: z.string().nullable(), billing_cycle: BillingCycle.nullable(), effective_at: UnixSeconds })
      .nullable()
      .describe("The next phase of a subscription schedule, when its price differs"),
    discount: z.object({ coupon_id: z.string(), percent_off: z.number().nullable(), amount_off: z.int().nullable(), ends_at: UnixSeconds.nullable() }).nullable(),
    next_invoice: z
      .object({ amount_due: z.int().describe("Integer cents"), tax: z.int().describe("Integer cents"), currency: z.string(), date: UnixSeconds.nullable() })
      .nullable()
      .describe("Stripe's preview of the next invoice; null for a canceled subscription"),
  })
  .openapi("SubscriptionView");

export const ChangeFields = {
  tier: TierKey,
  billing_cycle: BillingCycle.optional().describe("`monthly` or `annual`; default: the subscription's current cycle"),
};

export const ChangeBody = z.strictObject(ChangeFields).openapi("ChangeRequest");

export const ChangePreview = z
  .object({
    effective: z.enum(["now", "period_end"]),
    amount_due_now: z.int().describe("Integer cents charged at once (Stripe's preview)"),
    lines: z.array(z.object({ description: z.string(), amount: z.int().describe("Integer cents") })).describe("The lines charged now, as Stripe words and rounds them"),
    next_invoice_amount: z.int().describe("Integer cents of the next invoice after the change (Stripe's preview)"),
    currency: z.string(),
    proration_date: UnixSeconds.describe("The moment the proration was computed for"),
  })
  .openapi("ChangePreview");

export const Offer = z
  .object({
    id: z.string(),
    kind: z.enum(["downgrade", "discount"]),
    description: z.string(),
    to_tier: z.string().optional(),
    percent_off: z.number().optional(),
    duration: z.enum(["once", "repeating"]).optional(),
    duration_in_months: z.int().optional(),
    amount: z.int().optional().describe("Integer cents per billing period under the offer"),
    currency: z.string(),
  })
  .openapi("RetentionOffer");
