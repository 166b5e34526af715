/**
 * create_subscription, in two forms. A user's: a Stripe Checkout session for a tier with the
 * catalog's trial, through subscriptions/checkout.ts's startCheckout (the function behind POST
 * /v1/checkout); or, when the user already has a live subscription, that subscription instead of
 * an error, since an agent asked to "subscribe" a subscriber wants to know what they have. An
 * organization's (`{ organization: {...} }`): seats for a fixed term on an invoice, through
 * organizations/create.ts's createOrganization (the function behind POST /v1/organizations), with
 * its body rules (fields.ts `OrganizationPurchase`), its refusals (an org_id taken is a conflict)
 * and its presenter.
 */
import { z } from "zod";
import { findCustomer, startCheckout, billingCycle, priceOf, checkReturnUrl, subscriptionView } from "../subscriptions";
import { findTier } from "../catalog";
import { DomainError, isDomainError } from "../errors";
import type { Services } from "../services";
import { Organization, presentOrganization, presentSubscriptionSummary, SubscriptionSummary, type SubscriptionSummaryWire } from "../presenters";
import { createOrganization, organizationInput } from "../organizations";
import { BillingCycle, Email, OrganizationPurchase, PromotionCode, ReturnUrl, TestClockId, TierKey, UserId } from "../fields";
import { defineTool } from "./types";

/** Statuses in which the user has a subscription to show rather than a checkout to start. */
const LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "paused", "incomplete"] as const;
const LIVE = new Set<string>(LIVE_STATUSES);
const isLive = (status: string): status is (typeof LIVE_STATUSES)[number] => LIVE.has(status);

const ForUser = z.strictObject({
  user_id: UserId,
  tier: TierKey,
  billing_cycle: BillingCycle.default("monthly"),
  email: Email.optional().describe("Set on the Stripe customer; without it, Checkout asks the user"),
  promotion_code: PromotionCode.optional().describe("Applied to the session; without one, the user may enter a code in Checkout"),
  success_url: ReturnUrl.optional().describe(
    "Where Checkout sends the user after paying, on one of the app's origins (APP_BASE_URL, APP_ORIGINS; localhost in development); default: the app's billing page",
  ),
  cancel_url: ReturnUrl.optional().describe("Where Checkout sends the user who goes back, on one of the app's origins, as success_url"),
  test_clock: TestClockId.optional().describe("Test mode: put a new customer on this Stripe test clock"),
});

const ForOrganization = z.strictObject({
  organization: OrganizationPurchase.describe(
    "An organization (a federal agency) buying `seats` seats of the agency tier for `term_months` months, as POST /v1/organizations takes it: one invoice on net terms with the PO number, sent to billing_email, never charged, no automatic renewal",
  ),
});

/**
 * One form or the other, told apart by their keys (`organization`, or `user_id` and `tier`):
 * bad input names the fields of the form it meant (fields.ts `inputIssues`).
 */
const Input = z.union([ForUser, ForOrganization], {
  error: "must be a user's form ({ user_id, tier, billing_cycle?, ... }) or an organization's ({ organization: { org_id, name, billing_email, address, seats, term_months, ... } }), not both",
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
    outcome: z.literal("existing_subscription"),
    user_id: z.string(),
    subscription: SubscriptionSummary,
    message: z.string(),
  }),
  z.object({
    outcome: z.literal("organization_created"),
    organization: Organization.describe("The organization as GET /v1/organizations/{org_id} shows it, with its first invoice (open, due on net terms)"),
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

/**
 * The domain names the purchase's fields as POST /v1/organizations takes them (`org_id`); in this
 * tool's input they sit in `organization`, and that is the path an agent must correct.
 */
function inOrganization(e: unknown): unknown {
  if (!(e instanceof DomainError) || !e.details.errors || e.code === "config_invalid") return e;
  return new DomainError(e.code, e.message, { ...e.details, errors: e.details.errors.map((f) => ({ ...f, field: `organization.${f.field}` })) }, { cause: e });
}

export const createSubscription = defineTool({
  name: "create_subscription",
  description:
    "Start a subscription for a user: creates a Stripe Checkout session for the tier and billing cycle, with the tier's free trial for a first-time subscriber, and returns the checkout URL to send the user to. If the user already has a live subscription, returns it instead (outcome `existing_subscription`) and creates nothing. For an organization (a federal agency buying seats), send `{ organization: { org_id, name, billing_email, address, seats, term_months, po_number?, tax_id?, tax_exempt? } }` instead of user_id and tier: it buys the seats for the term on one invoice due on net terms (sent to billing_email, never charged, no automatic renewal) and returns the organization (outcome `organization_created`); an org_id that exists already is refused (conflict). Seats are then given to users with manage_seats.",
  input: Input,
  output: Output,
  permission: "billing:write",
  twin: [
    { method: "POST", path: "/v1/checkout" },
    { method: "POST", path: "/v1/organizations" },
  ],
  access: "write",
  examples: [
    { user_id: "user_123", tier: "mobile", billing_cycle: "monthly" },
    {
      organization: {
        org_id: "org_opm",
        name: "Office of Personnel Management",
        billing_email: "ap@opm.example.gov",
        address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
        po_number: "PO-2026-0042",
        seats: 25,
        term_months: 12,
      },
    },
  ],
  async handler(s, input, actor): Promise<Out> {
    if ("organization" in input) {
      const view = await createOrganization(s, actor, organizationInput(input.organization)).catch((e: unknown) => {
        throw inOrganization(e);
      });
      return { outcome: "organization_created", organization: presentOrganization(view) };
    }
    // The route's rule, before the existing-subscription answer: the tool refuses what the route refuses.
    checkReturnUrl(s.returnUrls, "success_url", input.success_url);
    checkReturnUrl(s.returnUrls, "cancel_url", input.cancel_url);
    const live = await liveSubscription(s, input.user_id);
    if (live) return existing(input.user_id, live);
    let result;
    try {
      result = await startCheckout(s, actor, {
        userId: input.user_id,
        email: input.email,
        tier: input.tier,
        billingCycle: input.billing_cycle,
        promotionCode: input.promotion_code,
        successUrl: input.success_url,
        cancelUrl: input.cancel_url,
        testClock: input.test_clock,
      });
    } catch (e) {
      // startCheckout found a live subscription in Stripe that the mirror does not have yet.
      if (isDomainError(e, "conflict")) {
        const sub = await stripeLiveSubscription(s, input.user_id);
        if (sub) return existing(input.user_id, sub);
      }
      throw e;
    }
    const price = priceOf(findTier(input.tier)!, input.billing_cycle);
    return {
      outcome: "checkout_created",
      user_id: input.user_id,
      checkout_url: result.url,
      session_id: result.sessionId,
      tier: input.tier,
      billing_cycle: input.billing_cycle,
      trial_days: result.trialDays,
      price: { amount: price.unit.amount, currency: price.unit.currency },
    };
  },
});
