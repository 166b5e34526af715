/**
 * Starting a subscription and managing one: a Stripe Checkout session for a tier and billing
 * cycle (one Stripe customer per user, the catalog's trial once per user, promotion codes), a
 * billing portal session, and promotion code lookups. Every rule is checked before anything is
 * created in Stripe; nothing is written to D1 but the audit row of a created session (the mirror
 * follows from the webhooks).
 */
import { and, eq } from "drizzle-orm";
import type { Actor } from "../audit";
import { sha256Hex } from "../crypto";
import { catalog as defaultCatalog, checkoutTermsText, findTier, type BillingCycle, type Catalog } from "../catalog";
import { customers, subscriptions } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import type { Services } from "../services";
import { priceOf } from "./cycle";
import { idOf, isMissing, Stripe } from "../stripe-sync";
import { requirePriceId } from "./prices";
import { checkReturnUrl } from "./return-url";

/** Statuses in which a user already has a subscription: a second one is refused. */
const LIVE_STATUSES = ["active", "trialing", "past_due", "unpaid", "paused", "incomplete"] as const;

export interface CheckoutInput {
  userId: string;
  /** Set on the Stripe customer; without one, Checkout asks the user for it. */
  email?: string | undefined;
  tier: string;
  billingCycle?: BillingCycle | undefined;
  promotionCode?: string | undefined;
  successUrl?: string | undefined;
  cancelUrl?: string | undefined;
  testClock?: string | undefined;
}

export interface CheckoutResult {
  sessionId: string;
  url: string;
  trialDays: number;
}

type Deps = Pick<Services, "db" | "clock" | "stripe" | "stripeMode" | "appBaseUrl" | "returnUrls" | "audit">;

const invalid = invalidInput;

/** The user's Stripe customer: the mirror's, else one Stripe knows by `metadata.user_id`; null when neither has one. */
export async function findCustomer(deps: Pick<Services, "db" | "stripe">, userId: string): Promise<Stripe.Customer | null> {
  const mirrored = await deps.db
    .select({ id: customers.id })
    .from(customers)
    .where(and(eq(customers.userId, userId), eq(customers.deleted, false)))
    .all();
  for (const { id } of mirrored) {
    try {
      const c = await deps.stripe.customers.retrieve(id);
      if (!c.deleted) return c;
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  }
  // Not mirrored yet (its webhook may still be on its way): ask Stripe. The user id pattern
  // (A-Z a-z 0-9 _ . : @ -) holds no quote, so it goes into the query as it is.
  const found = await deps.stripe.customers.search({ query: `metadata['user_id']:'${userId}'`, limit: 10 });
  return found.data.find((c) => !(c as Stripe.Customer | Stripe.DeletedCustomer).deleted) ?? null;
}

/** The active promotion code with this code, usable now; null when there is none. */
export async function findPromotionCode(deps: Pick<Services, "stripe" | "clock">, code: string): Promise<Stripe.PromotionCode | null> {
  const list = await deps.stripe.promotionCodes.list({ code, active: true, limit: 10 });
  const now = Math.floor(deps.clock.now() / 1000);
  return (
    list.data.find(
      (p) => p.code.toLowerCase() === code.toLowerCase() && p.active && (p.expires_at === null || p.expires_at > now) && (p.max_redemptions === null || p.times_redeemed < p.max_redemptions),
    ) ?? null
  );
}

/** The coupon behind a promotion code (older API versions put it at `coupon`, newer at `promotion.coupon`). */
export async function promotionCoupon(deps: Pick<Services, "stripe">, promo: Stripe.PromotionCode): Promise<Stripe.Coupon | null> {
  const legacy = (promo as unknown as { coupon?: Stripe.Coupon | string | null }).coupon;
  const ref = (promo as unknown as { promotion?: { coupon?: Stripe.Coupon | string | null } }).promotion?.coupon ?? legacy ?? null;
  if (ref === null) return null;
  return typeof ref === "string" ? deps.stripe.coupons.retrieve(ref) : ref;
}

export interface PromotionCodeView {
  code: string;
  active: boolean;
  coupon: { percent_off: number | null; amount_off: number | null; currency: string | null; duration: string; duration_in_months: number | null };
}

export async function lookupPromotionCode(deps: Pick<Services, "stripe" | "clock">, code: string): Promise<PromotionCodeView> {
  const promo = await findPromotionCode(deps, code);
  const coupon = promo ? await promotionCoupon(deps, promo) : null;
  if (!promo || !coupon || !coupon.valid) throw new DomainError("not_found", `No active promotion code ${code}.`, { errors: [{ field: "code", message: "no such active promotion code" }] });
  return {
    code: promo.code,
    active: promo.active,
    coupon: { percent_off: coupon.percent_off, amount_off: coupon.amount_off, currency: coupon.currency, duration: coupon.duration, duration_in_months: coupon.duration_in_months },
  };
}

/**
 * A Checkout session for a tier: refuses a user who already has a live subscription (409), an
 * unknown or unusable promotion code, a test clock with a live key or a test clock Stripe does
 * not know (400), all before creating anything in Stripe.
 */
export async function startCheckout(deps: Deps, who: Actor, input: CheckoutInput, from: Catalog = defaultCatalog): Promise<CheckoutResult> {
  const cycle = input.billingCycle ?? "monthly";
  const tier = findTier(input.tier, from);
  if (!tier) throw invalid("tier", "unknown tier", `There is no tier ${input.tier}.`);
  checkReturnUrl(deps.returnUrls, "success_url", input.successUrl);
  checkReturnUrl(deps.returnUrls, "cancel_url", input.cancelUrl);
  const price = priceOf(tier, cycle);
  if (input.testClock !== undefined && deps.stripeMode === "live") {
    throw invalid("test_clock", "test clocks exist only in test mode", "test_clock can only be used with a Stripe test key.");
  }

  // Rules the mirror can answer, before any call to Stripe.
  const mirrored = await deps.db.select({ status: subscriptions.status, trialStart: subscriptions.trialStart }).from(subscriptions).where(eq(subscriptions.userId, input.userId)).all();
  const conflict = () =>
    new DomainError("conflict", `User ${input.userId} already has a subscription; change it in the billing portal (POST /v1/portal).`, {
      errors: [{ field: "user_id", message: "already subscribed" }],
    });
  if (mirrored.some((s) => (LIVE_STATUSES as readonly string[]).includes(s.status))) throw conflict();

  const stripe = deps.stripe;
  const customer = await findCustomer(deps, input.userId);
  // Stripe is the truth when the mirror lags: the customer's own subscriptions.
  const stripeSubs = customer ? (await stripe.subscriptions.list({ customer: customer.id, status: "all", limit: 100 })).data : [];
  if (stripeSubs.some((s) => (LIVE_STATUSES as readonly string[]).includes(s.status))) throw conflict();
  const hadSubscription = mirrored.length > 0 || stripeSubs.length > 0;
  const trialDays = hadSubscription ? 0 : tier.trialDays;

  let promotionCodeId: string | undefined;
  if (input.promotionCode !== undefined) {
    const promo = await findPromotionCode(deps, input.promotionCode);
    const coupon = promo ? await promotionCoupon(deps, promo) : null;
    if (!promo || !coupon?.valid) throw invalid("promotion_code", "unknown, inactive or expired promotion code", `The promotion code ${input.promotionCode} cannot be used.`);
    promotionCodeId = promo.id;
  }

  const priceId = await requirePriceId(deps, price.lookupKey);

  if (input.testClock !== undefined && customer && idOf(customer.test_clock) !== input.testClock) {
    // The clock cannot be moved onto an existing customer: the rehearsal would run on real time.
    throw invalid(
      "test_clock",
      "the user's customer is not on this test clock",
      `The user ${input.userId} already has a Stripe customer ${customer.test_clock ? `on the test clock ${idOf(customer.test_clock)}` : "on real time"}; a test clock applies only to a new customer.`,
    );
  }
  if (input.testClock !== undefined && !customer) {
    try {
      await stripe.testHelpers.testClocks.retrieve(input.testClock);
    } catch (e) {
      if (isMissing(e)) throw invalid("test_clock", "no such test clock", `There is no test clock ${input.testClock}.`);
      throw e;
    }
  }

  const metadata = { user_id: input.userId, tier: tier.key };
  let customerId = customer?.id;
  if (!customerId) {
    // Keyed by the user (and the customers of theirs Stripe deleted, after which a new one is
    // due), not by the email: two first checkouts racing, or retried, get the one customer.
    // The email is set apart, so requests with different emails never clash over the key.
    const gone = (
      await deps.db
        .select({ id: customers.id })
        .from(customers)
        .where(and(eq(customers.userId, input.userId), eq(customers.deleted, true)))
        .all()
    )
      .map((c) => c.id)
      .sort();
    const digest = await sha256Hex(JSON.stringify([input.userId, input.testClock ?? null, gone]));
    const created = await stripe.customers.create(
      { metadata: { user_id: input.userId }, ...(input.testClock !== undefined ? { test_clock: input.testClock } : {}) },
      { idempotencyKey: `checkout-customer:${digest}` },
    );
    customerId = created.id;
  }
  if (input.email !== undefined && customer?.email !== input.email) await stripe.customers.update(customerId, { email: input.email });

  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: "subscription",
        customer: customerId,
        client_reference_id: input.userId,
        line_items: [{ price: priceId, quantity: 1 }],
        success_url: input.successUrl ?? `${deps.appBaseUrl}/billing/success`,
        cancel_url: input.cancelUrl ?? `${deps.appBaseUrl}/billing`,
        metadata,
        // A trial whose card was removed ends at the trial's end instead of billing nobody.
        subscription_data: { metadata, ...(trialDays > 0 ? { trial_period_days: trialDays, trial_settings: { end_behavior: { missing_payment_method: "cancel" } } } : {}) },
        automatic_tax: { enabled: true },
        // Automatic tax needs the customer's address: Checkout collects it onto the customer.
        customer_update: { address: "auto", name: "auto" },
        // The cancellation and refund terms, above the pay button: what a dispute's evidence quotes as shown.
        custom_text: { submit: { message: checkoutTermsText(from.policy.terms) } },
        ...(promotionCodeId !== undefined ? { discounts: [{ promotion_code: promotionCodeId }] } : { allow_promotion_codes: true }),
      },
      // A retry of the same request (its Idempotency-Key) gets the session the first run made.
      who.idempotencyKey ? { idempotencyKey: `checkout:${who.idempotencyKey}` } : undefined,
    );
  } catch (e) {
    // A code Stripe refuses for this purchase (first-time customers only, a minimum amount, another product).
    if (input.promotionCode !== undefined && e instanceof Stripe.errors.StripeInvalidRequestError && /promotion_code|discounts/.test(e.param ?? "")) {
      throw invalid("promotion_code", "Stripe refuses this promotion code for this purchase", `The promotion code ${input.promotionCode} cannot be used for this purchase: ${e.message}`);
    }
    throw e;
  }
  if (!session.url) throw new DomainError("upstream_unavailable", "Stripe created a Checkout session without a URL.");

  await deps.audit.commit(async () => ({
    statements: [],
    entries: [
      {
        actor: who,
        action: "checkout.session_created",
        subject: { type: "user", id: input.userId },
        after: { session: session.id, customer: customerId, tier: tier.key, billing_cycle: cycle, trial_days: trialDays, promotion_code: promotionCodeId ?? null },
      },
    ],
    result: undefined,
  }));
  return { sessionId: session.id, url: session.url, trialDays };
}

/** A billing portal session for the user's customer; not_found when the user has none. */
export async function openPortal(deps: Pick<Services, "db" | "stripe" | "appBaseUrl" | "returnUrls">, input: { userId: string; returnUrl?: string | undefined }): Promise<{ url: string }> {
  checkReturnUrl(deps.returnUrls, "return_url", input.returnUrl);
  const customer = await findCustomer(deps, input.userId);
  if (!customer)
    throw new DomainError("not_found", `User ${input.userId} has no Stripe customer; start with POST /v1/checkout.`, { errors: [{ field: "user_id", message: "no customer for this user" }] });
  const session = await deps.stripe.billingPortal.sessions.create({ customer: customer.id, return_url: input.returnUrl ?? `${deps.appBaseUrl}/billing` });
  return { url: session.url };
}
