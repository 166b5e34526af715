/**
 * create_subscription: a Stripe Checkout session for a tier with the catalog's trial, through
 * subscriptions/checkout.ts's startCheckout (the function behind POST /v1/checkout); or, when the user
 * already has a live subscription, that subscription instead of an error, since an agent asked
 * to "subscribe" a subscriber wants to know what they have.
 */
import { z } from "zod";
import { findCustomer, startCheckout, billingCycle, priceOf, checkReturnUrl, subscriptionView } from "../subscriptions";
import { findTier } from "../catalog";
import { isDomainError } from "../errors";
import type { Services } from "../services";
import { BillingCycle, Email, OrgId, OrgName, PoNumber, PostalAddress, PromotionCode, ReturnUrl, Seats, TaxIdEin, TermMonths, TestClockId, TierKey, UserId } from "../fields";
import { createOrganization } from "../organizations";
import { Organization, presentOrganization, presentSubscriptionSummary, SubscriptionSummary, type SubscriptionSummaryWire } from "../presenters";
import { defineTool } from "./types";

/** Statuses in which the user has a subscription to show rather than a checkout to start. */
const LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "paused", "incomplete"] as const;
const LIVE = new Set<string>(LIVE_STATUSES);
const isLive = (status: string): status is (typeof LIVE_STATUSES)[number] => LIVE.has(status);

/** An organization buying seats for a term: POST /v1/organizations's fields, with its rules. */
const OrganizationInput = z
  .strictObject({
    org_id: OrgId,
    name: OrgName,
    billing_email: Email.describe("Where invoices and reminders go"),
    address: PostalAddress,
    tax_id: TaxIdEin.optional(),
    po_number: PoNumber.optional(),
    seats: Seats,
    term_months: TermMonths,
  })
  .describe("Instead of user_id and tier: an organization buying seats for a term on an invoice with net terms, as POST /v1/organizations (no checkout, nothing charged)");

/** What only a user's checkout takes. */
const USER_ONLY = ["user_id", "tier", "email", "promotion_code", "success_url", "cancel_url"] as const;

const Input = z
  .strictObject({
    user_id: UserId.optional().describe("The user to subscribe (required unless organization is given)"),
    tier: TierKey.optional().describe("The tier (required with user_id)"),
    billing_cycle: BillingCycle.default("monthly"),
    email: Email.optional().describe("Set on the Stripe customer; without it, Checkout asks the user"),
    promotion_code: PromotionCode.optional().describe("Applied to the session; without one, the user may enter a code in Checkout"),
    success_url: ReturnUrl.optional().describe(
      "Where Checkout sends the user after paying, on one of the app's origins (APP_BASE_URL, APP_ORIGINS; localhost in development); default: the app's billing page",
    ),
    cancel_url: ReturnUrl.optional().describe("Where Checkout sends the user who goes back, on one of the app's origins, as success_url"),
    test_clock: TestClockId.optional().describe("Test mode: put a new customer on this Stripe test clock"),
    organization: OrganizationInput.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.organization !== undefined) {
      for (const k of USER_ONLY) if (v[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "not with organization: an organization buys seats on an invoice" });
      return;
    }
    if (v.user_id === undefined) ctx.addIssue({ code: "custom", path: ["user_id"], message: "required (or organization)" });
    if (v.tier === undefined) ctx.addIssue({ code: "custom", path: ["tier"], message: "required with user_id" });
  });

const Output = z.discriminatedUnion("outcome", [
  z.object({
    outcome: z.literal("checkout_created"),
    user_id: z.string(),
    checkout_url: z.string().describe("Send the user here to enter a card and start the subscription"),
    session_id: z.string(),
    tier: z.string(),
    billing_cycle: z.string(),
    trial_days: z.int().describe("Free days before the first charge; 0 for a user who had a subscription before"),
    price: z.object({ amount: z.int().describe("Cents per cycle after the trial"), currency: z.string() }),
  }),
  z.object({
    outcome: z.literal("organization_created"),
    org_id: z.string(),
    organization: Organization.describe("As POST /v1/organizations answers: the seats, the term and the first invoice, sent on net terms"),
  }),
  z.object({
    outcome: z.literal("existing_subscription"),
    user_id: z.string(),
    subscription: SubscriptionSummary,
    message: z.string(),
  }),
]);

type Out = z.input<typeof Output>;

const existing = (userId: string, sub: SubscriptionSummaryWire): Out => ({
  outcome: "existing_subscription",
  user_id: userId,
  subscription: sub,
  message: `User ${userId} already has a ${sub.status} subscription${sub.tier ? ` to ${sub.tier}` : ""}; no checkout was created. Plan changes go through the billing portal or POST /v1/subscriptions/${userId}/change.`,
});

/** The user's live subscription as the mirror shows it; null when there is none. */
async function liveSubscription(s: Services, userId: string): Promise<SubscriptionSummaryWire | null> {
  try {
    const view = await subscriptionView(s, userId);
    return LIVE.has(view.status) ? presentSubscriptionSummary(view) : null;
  } catch (e) {
    if (isDomainError(e, "not_found")) return null;
    throw e;
  }
}

/** When the mirror lags behind Stripe (the webhook is on its way): Stripe's own live subscription. */
async function stripeLiveSubscription(s: Services, userId: string): Promise<SubscriptionSummaryWire | null> {
  const customer = await findCustomer(s, userId);
  if (!customer) return null;
  const subs = await s.stripe.subscriptions.list({ customer: customer.id, status: "all", limit: 100 });
  const sub = subs.data.find((x) => LIVE.has(x.status));
  if (!sub || !isLive(sub.status)) return null;
  const item = sub.items.data[0];
  const price = item?.price;
  return presentSubscriptionSummary({
    subscription_id: sub.id,
    tier: sub.metadata?.tier ?? null,
    billing_cycle: billingCycle(price?.recurring?.interval, price?.recurring?.interval_count ?? 1),
    status: sub.status,
    trial_end: sub.trial_end,
    current_period_end: item?.current_period_end ?? null,
    cancel_at_period_end: sub.cancel_at_period_end,
  });
}

export const createSubscription = defineTool({
  name: "create_subscription",
  description:
    "Start a subscription for a user: creates a Stripe Checkout session for the tier and billing cycle, with the tier's free trial for a first-time subscriber, and returns the checkout URL to send the user to. If the user already has a live subscription, returns it instead (outcome `existing_subscription`) and creates nothing. For an organization (a federal agency) give `organization` instead of user_id and tier: it buys `seats` seats of the agency tier for `term_months` months on an invoice with net terms and its PO number, sent to billing_email, nothing charged and no automatic renewal (outcome `organization_created`, as POST /v1/organizations).",
  input: Input,
  output: Output,
  permission: "billing:write",
  twin: { method: "POST", path: "/v1/checkout" },
  access: "write",
  examples: [
    { user_id: "user_123", tier: "mobile", billing_cycle: "monthly" },
    {
      organization: {
        org_id: "org_opt",
        name: "Office of Personnel Transition",
        billing_email: "ap@opt.example.gov",
        address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
        po_number: "PO-2026-0042",
        seats: 25,
        term_months: 12,
      },
    },
  ],
  async handler(s, input, actor): Promise<Out> {
    if (input.organization !== undefined) {
      const o = input.organization;
      const view = await createOrganization(s, actor, {
        orgId: o.org_id,
        name: o.name,
        billingEmail: o.billing_email,
        address: o.address,
        taxId: o.tax_id,
        poNumber: o.po_number,
        seats: o.seats,
        termMonths: o.term_months,
        testClock: input.test_clock,
      });
      return { outcome: "organization_created", org_id: o.org_id, organization: presentOrganization(view) };
    }
    const userId = input.user_id!;
    const tier = input.tier!;
    // The route's rule, before the existing-subscription answer: the tool refuses what the route refuses.
    checkReturnUrl(s.returnUrls, "success_url", input.success_url);
    checkReturnUrl(s.returnUrls, "cancel_url", input.cancel_url);
    const live = await liveSubscription(s, userId);
    if (live) return existing(userId, live);
    let result;
    try {
      result = await startCheckout(s, actor, {
        userId,
        email: input.email,
        tier,
        billingCycle: input.billing_cycle,
        promotionCode: input.promotion_code,
        successUrl: input.success_url,
        cancelUrl: input.cancel_url,
        testClock: input.test_clock,
      });
    } catch (e) {
      // startCheckout found a live subscription in Stripe that the mirror does not have yet.
      if (isDomainError(e, "conflict")) {
        const sub = await stripeLiveSubscription(s, userId);
        if (sub) return existing(userId, sub);
      }
      throw e;
    }
    const price = priceOf(findTier(tier)!, input.billing_cycle);
    return {
      outcome: "checkout_created",
      user_id: userId,
      checkout_url: result.url,
      session_id: result.sessionId,
      tier,
      billing_cycle: input.billing_cycle,
      trial_days: result.trialDays,
      price: { amount: price.unit.amount, currency: price.unit.currency },
    };
  },
});
