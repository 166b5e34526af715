/**
 * The product catalog as data: adding a tier, a billing cycle or a feature is an edit here, not a
 * code change. It is validated with zod when the module loads, so a bad edit fails the build
 * and every test instead of reaching a customer.
 */
import { z } from "zod";

const Money = z.strictObject({
  /** Integer minor units (cents). */
  amount: z.int().nonnegative(),
  currency: z.string().regex(/^[a-z]{3}$/),
});

/**
 * How often a price bills, in the API's words (`billing_cycle` on the wire, the SDK's
 * `BillingCycle`). Stripe says `recurring.interval` and `interval_count` (`month`, `year` × 1, 2,
 * 3): subscriptions/cycle.ts is where the two meet. `two_year` and `three_year` are prepaid:
 * one charge covers the whole period.
 */
export const BILLING_CYCLES = ["monthly", "annual", "two_year", "three_year"] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];

/** The period one payment of a cycle covers, as Stripe's `recurring` counts it (a price's, a schedule phase's `duration`). */
export const PERIOD_OF: Readonly<Record<BillingCycle, { readonly interval: "month" | "year"; readonly interval_count: number }>> = {
  monthly: { interval: "month", interval_count: 1 },
  annual: { interval: "year", interval_count: 1 },
  two_year: { interval: "year", interval_count: 2 },
  three_year: { interval: "year", interval_count: 3 },
};

/** Months one payment of a cycle covers: what a price is divided by to compare it per month. */
/** Months in a Stripe period (`interval` × `interval_count`); null for day and week periods, which are no whole number of months. */
export function monthsPerPeriod(interval: string, intervalCount: number): number | null {
  return interval === "year" ? 12 * intervalCount : interval === "month" ? intervalCount : null;
}

/** What of a Stripe price says what it bills (stripe-node's Price has these fields). */
export interface StripePriceTerms {
  type: string;
  unit_amount: number | null;
  currency: string;
  recurring: { interval: string; interval_count?: number; usage_type?: string } | null;
}

/**
 * Whether a Stripe price bills what the catalog's says: a licensed recurring price with its
 * amount, currency and period. stripe:setup replaces a price that does not; the doctor fails it.
 */
export function stripePriceMatches(price: StripePriceTerms, p: Pick<Price, "unit" | "billingCycle">): boolean {
  const period = PERIOD_OF[p.billingCycle];
  return (
    price.type === "recurring" &&
    price.unit_amount === p.unit.amount &&
    price.currency === p.unit.currency &&
    price.recurring?.interval === period.interval &&
    (price.recurring?.interval_count ?? 1) === period.interval_count &&
    price.recurring?.usage_type !== "metered"
  );
}

export function monthsOf(cycle: BillingCycle): number {
  const p = PERIOD_OF[cycle];
  return monthsPerPeriod(p.interval, p.interval_count)!;
}

/** The period as a price is written: `$29/month`, `$290/year`, `$522/2 years`. */
export function periodLabel(cycle: BillingCycle): string {
  const p = PERIOD_OF[cycle];
  return p.interval_count === 1 ? p.interval : `${p.interval_count} ${p.interval}s`;
}

const Price = z.strictObject({
  billingCycle: z.enum(BILLING_CYCLES),
  unit: Money,
  /** Stripe price lookup key: the worker finds Stripe's price by this, never by a hard-coded id. */
  lookupKey: z.string().regex(/^[a-z0-9_]+$/),
});

/**
 * Who buys a tier: a person at Checkout (`individual`), or an organization that buys seats on an
 * invoice for a fixed term (`organization`: organizations/, `POST /v1/organizations`). Checkout,
 * plan changes, upgrade offers and `GET /v1/catalog` offer individual tiers only.
 */
export const AUDIENCES = ["individual", "organization"] as const;

const Tier = z.strictObject({
  key: z.string().regex(/^[a-z0-9_]+$/),
  name: z.string().min(1),
  audience: z.enum(AUDIENCES).default("individual"),
  /** Upgrades go to a higher rank; downgrades to a lower one. */
  rank: z.int().positive(),
  trialDays: z.int().nonnegative(),
  prices: z.array(Price).min(1),
  features: z.array(z.string()),
  limits: z.record(z.string(), z.int().nonnegative().nullable()),
});

/**
 * What a subscription change does, per direction (subscriptions/change.ts reads this):
 * - upgrade (to a higher rank): `prorate_now` charges the prorated difference at once;
 *   `prorate_next_invoice` puts it on the next renewal invoice.
 * - downgrade (to a lower rank): `period_end` lets Stripe switch at the renewal through a
 *   subscription schedule (the user keeps what they paid for); `now_credit` switches now and
 *   credits the unused time on the next invoice; `now_no_proration` switches now, no credit.
 * - cycle change (same tier, between monthly, annual, two- and three-year): `period_end` (through a schedule) or `now`
 *   (Stripe restarts the cycle and bills the new period, crediting the unused time).
 */
const ChangePolicy = z.strictObject({
  upgrade: z.enum(["prorate_now", "prorate_next_invoice"]),
  downgrade: z.enum(["period_end", "now_credit", "now_no_proration"]),
  cycle_change: z.enum(["period_end", "now"]),
});

/** The retention offer a canceling subscriber of a tier is shown first (subscriptions/cancel.ts). */
const RetentionOffer = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("downgrade"), to_tier: z.string() }),
  z.strictObject({ kind: z.literal("discount"), percent_off: z.number().gt(0).lte(100), duration_in_months: z.int().positive() }),
]);

/**
 * What Stripe's customer portal offers (`npm run stripe:setup` applies it to the account's
 * default portal configuration). Updating the card and seeing invoices are always on. Plan
 * changes and cancellation are off by default: through the worker's API they follow `change`
 * (proration, downgrades at the period end) and show the `retention` offer first, which the
 * portal would skip; turn one on to let the portal do it Stripe's way instead.
 */
const PortalPolicy = z.strictObject({
  plan_changes: z.boolean(),
  cancellation: z.boolean(),
  /** Customer details the portal lets a customer edit (Stripe's `customer_update.allowed_updates`). */
  customer_updates: z.array(z.enum(["address", "email", "name", "phone", "shipping", "tax_id"])),
});
export type PortalPolicy = z.infer<typeof PortalPolicy>;

/**
 * The cancellation and refund terms as the buyer reads them: Checkout shows them above its pay
 * button (Stripe's `custom_text.submit`, at most 1,200 characters together), and a dispute's
 * evidence quotes them as shown (evidence/). Keep them true to `change` and refunds/policy.ts.
 */
const TermsPolicy = z
  .strictObject({
    cancellation: z.string().min(1),
    refund: z.string().min(1),
  })
  .refine((t) => checkoutTermsText(t).length <= 1200, { message: "Checkout's custom text takes at most 1,200 characters" });
export type TermsPolicy = z.infer<typeof TermsPolicy>;

/** The terms as Checkout shows them: the one text both the buyer and the dispute's evidence read. */
export function checkoutTermsText(t: { cancellation: string; refund: string }): string {
  return `${t.cancellation} ${t.refund}`;
}

/**
 * How organizations buy (organizations/): seats of the `tier` at `seat_price_per_year` for a term
 * of `terms[].months`, each term one prepaid Stripe price per seat (interval `year`,
 * interval_count months / 12) at the yearly price × years less the term's `discount_percent`
 * (the catalog check below holds the tier's prices to that). Invoices are sent, not charged, due
 * `days_until_due` days after they are issued (the Prompt Payment Act's 30); a term ends at its
 * end (Stripe's `cancel_at`) unless renewed, as federal contracts cannot renew by themselves.
 */
const OrganizationPolicy = z.strictObject({
  tier: z.string(),
  seat_price_per_year: Money,
  terms: z.array(z.strictObject({ months: z.union([z.literal(12), z.literal(24), z.literal(36)]), discount_percent: z.number().min(0).lt(100) })).min(1),
  days_until_due: z.int().min(0).max(365),
  /** Seats one organization may hold; more is a 400 naming `seats`. */
  max_seats: z.int().positive(),
  /** Days before a term's end the billing contact is reminded to renew. */
  renewal_reminder_days: z.array(z.int().positive()),
  /** Days after an unpaid invoice's due date the billing contact is reminded. */
  overdue_reminder_days: z.array(z.int().positive()),
  /** Days after the due date an unpaid invoice suspends the seats; null: never (a late payment earns interest, not a cutoff). */
  suspend_after_days_overdue: z.int().positive().nullable(),
});
export type OrganizationPolicy = z.infer<typeof OrganizationPolicy>;

const Policy = z.strictObject({
  change: ChangePolicy,
  /** Whether a subscriber whose payment collection is paused keeps the tier's features. */
  paused_keeps_access: z.boolean(),
  /** Offer per tier key; a tier without one is canceled at once. */
  retention: z.record(z.string(), RetentionOffer),
  portal: PortalPolicy,
  terms: TermsPolicy,
  organizations: OrganizationPolicy,
});
export type ChangePolicy = z.infer<typeof ChangePolicy>;
export type RetentionOfferPolicy = z.infer<typeof RetentionOffer>;

const Feature = z.strictObject({
  key: z.string().regex(/^[a-z0-9_]+$/),
  description: z.string().min(1),
});

const Limit = z.strictObject({
  key: z.string().regex(/^[a-z0-9_]+$/),
  description: z.string().min(1),
  unit: z.string(),
});

const Catalog = z
  .strictObject({
    currency: z.string().regex(/^[a-z]{3}$/),
    tiers: z.array(Tier).min(1),
    features: z.array(Feature),
    limits: z.array(Limit),
    policy: Policy,
  })
  .superRefine((catalog, ctx) => {
    const features = new Set(catalog.features.map((f) => f.key));
    const limits = new Set(catalog.limits.map((l) => l.key));
    const keys = new Set<string>();
    const lookupKeys = new Set<string>();
    catalog.tiers.forEach((tier, i) => {
      if (keys.has(tier.key)) ctx.addIssue({ code: "custom", path: ["tiers", i, "key"], message: `duplicate tier ${tier.key}` });
      keys.add(tier.key);
      tier.features.forEach((f, j) => {
        if (!features.has(f)) ctx.addIssue({ code: "custom", path: ["tiers", i, "features", j], message: `unknown feature ${f}` });
      });
      for (const l of Object.keys(tier.limits)) {
        if (!limits.has(l)) ctx.addIssue({ code: "custom", path: ["tiers", i, "limits", l], message: `unknown limit ${l}` });
      }
      const cycles = new Set<string>();
      tier.prices.forEach((p, j) => {
        if (cycles.has(p.billingCycle)) ctx.addIssue({ code: "custom", path: ["tiers", i, "prices", j, "billingCycle"], message: `a second ${p.billingCycle} price` });
        cycles.add(p.billingCycle);
        if (lookupKeys.has(p.lookupKey)) ctx.addIssue({ code: "custom", path: ["tiers", i, "prices", j], message: `duplicate lookup key ${p.lookupKey}` });
        lookupKeys.add(p.lookupKey);
        if (p.unit.currency !== catalog.currency) ctx.addIssue({ code: "custom", path: ["tiers", i, "prices", j, "unit", "currency"], message: "currency differs from the catalog's" });
      });
    });
    const orgs = catalog.policy.organizations;
    const seatTier = catalog.tiers.find((t) => t.key === orgs.tier);
    if (!seatTier || seatTier.audience !== "organization") ctx.addIssue({ code: "custom", path: ["policy", "organizations", "tier"], message: `${orgs.tier} is no organization tier` });
    else
      orgs.terms.forEach((term, i) => {
        const price = seatTier.prices.find((p) => monthsOf(p.billingCycle) === term.months);
        const amount = termSeatAmount(orgs, term.months);
        if (!price || price.unit.amount !== amount || price.unit.currency !== orgs.seat_price_per_year.currency)
          ctx.addIssue({ code: "custom", path: ["policy", "organizations", "terms", i], message: `the ${orgs.tier} tier needs a ${term.months}-month price of ${amount}` });
      });
    for (const [tierKey, offer] of Object.entries(catalog.policy.retention)) {
      const from = catalog.tiers.find((t) => t.key === tierKey);
      if (!from) ctx.addIssue({ code: "custom", path: ["policy", "retention", tierKey], message: `unknown tier ${tierKey}` });
      if (offer.kind === "downgrade") {
        const to = catalog.tiers.find((t) => t.key === offer.to_tier);
        if (!to) ctx.addIssue({ code: "custom", path: ["policy", "retention", tierKey, "to_tier"], message: `unknown tier ${offer.to_tier}` });
        else if (from && to.rank >= from.rank) ctx.addIssue({ code: "custom", path: ["policy", "retention", tierKey, "to_tier"], message: "a downgrade offer must go to a lower tier" });
      }
    }
  });

export type Catalog = z.infer<typeof Catalog>;
export type Tier = z.infer<typeof Tier>;
export type Price = z.infer<typeof Price>;

/**
 * Per seat: $390 a year; a 24-month term 5 % off two years, a 36-month term 10 % off three
 * (what a multi-year contract saves the agency, less than an individual's prepaid discount since
 * seats are bought by the dozen). Reminders as issue 25 asks; seats stay on when an invoice is late.
 */
const AGENCY_POLICY = {
  tier: "agency",
  seat_price_per_year: { amount: 39000, currency: "usd" },
  terms: [
    { months: 12, discount_percent: 0 },
    { months: 24, discount_percent: 5 },
    { months: 36, discount_percent: 10 },
  ],
  days_until_due: 30,
  // Every sync of the organization's subscription re-derives each member's entitlement in one D1
  // batch (stripe-sync writeEntitlements: some 6 to 10 queries a member), and a Worker invocation
  // may make 1,000 D1 queries: 100 members stay well inside it. More needs that re-derivation
  // split across batches first.
  max_seats: 100,
  renewal_reminder_days: [90, 60, 30],
  overdue_reminder_days: [1, 15, 30],
  suspend_after_days_overdue: null,
} satisfies z.input<typeof OrganizationPolicy>;

/** One seat's price for a term: the yearly price × years, less the term's discount, in whole cents. */
export function termSeatAmount(policy: Pick<OrganizationPolicy, "seat_price_per_year" | "terms">, months: number): number {
  const term = policy.terms.find((t) => t.months === months);
  if (!term) throw new Error(`no ${months}-month term`);
  return Math.round((policy.seat_price_per_year.amount * months * (100 - term.discount_percent)) / 1200);
}

const TERM_CYCLE: Record<number, BillingCycle> = { 12: "annual", 24: "two_year", 36: "three_year" };

export const CATALOG_DATA = {
  currency: "usd",
  features: [
    { key: "local_job_search", description: "Search federal jobs within commuting distance" },
    { key: "saved_searches", description: "Save searches and come back to them" },
    { key: "email_alerts", description: "Email alerts for new matching jobs" },
    { key: "nationwide_job_search", description: "Search federal jobs anywhere in the country" },
    { key: "mobile_app", description: "Use the mobile app" },
  ],
  limits: [{ key: "search_radius_miles", description: "How far from home a search may reach", unit: "miles" }],
  tiers: [
    {
      key: "local",
      name: "Local",
      rank: 1,
      trialDays: 7,
      prices: [
        { billingCycle: "monthly", unit: { amount: 2900, currency: "usd" }, lookupKey: "local_monthly" },
        { billingCycle: "annual", unit: { amount: 29000, currency: "usd" }, lookupKey: "local_annual" },
        // Prepaid multi-year: two years at 1.8 × the annual price (10 % off), three at 2.5 × (about 17 % off).
        { billingCycle: "two_year", unit: { amount: 52200, currency: "usd" }, lookupKey: "local_two_year" },
        { billingCycle: "three_year", unit: { amount: 72500, currency: "usd" }, lookupKey: "local_three_year" },
      ],
      features: ["local_job_search", "saved_searches", "email_alerts"],
      limits: { search_radius_miles: 50 },
    },
    {
      key: "mobile",
      name: "Mobile",
      rank: 2,
      trialDays: 14,
      prices: [
        { billingCycle: "monthly", unit: { amount: 4900, currency: "usd" }, lookupKey: "mobile_monthly" },
        { billingCycle: "annual", unit: { amount: 49000, currency: "usd" }, lookupKey: "mobile_annual" },
        { billingCycle: "two_year", unit: { amount: 88200, currency: "usd" }, lookupKey: "mobile_two_year" },
        { billingCycle: "three_year", unit: { amount: 122500, currency: "usd" }, lookupKey: "mobile_three_year" },
      ],
      features: ["local_job_search", "saved_searches", "email_alerts", "nationwide_job_search", "mobile_app"],
      // null: no radius limit (nationwide).
      limits: { search_radius_miles: null },
    },
    {
      // Seats an agency buys for its people: every feature of mobile, on the agency's term.
      key: "agency",
      name: "Agency",
      audience: "organization",
      rank: 3,
      trialDays: 0,
      prices: AGENCY_POLICY.terms.map((t) => ({
        billingCycle: TERM_CYCLE[t.months]!,
        unit: { amount: termSeatAmount(AGENCY_POLICY, t.months), currency: "usd" },
        lookupKey: `agency_seat_${TERM_CYCLE[t.months]!}`,
      })),
      features: ["local_job_search", "saved_searches", "email_alerts", "nationwide_job_search", "mobile_app"],
      limits: { search_radius_miles: null },
    },
  ],
  policy: {
    organizations: AGENCY_POLICY,
    change: { upgrade: "prorate_now", downgrade: "period_end", cycle_change: "period_end" },
    paused_keeps_access: false,
    retention: {
      mobile: { kind: "downgrade", to_tier: "local" },
      local: { kind: "discount", percent_off: 25, duration_in_months: 2 },
    },
    // The billing address decides the tax; the email is the app's sign-in, so it stays the app's.
    portal: { plan_changes: false, cancellation: false, customer_updates: ["address", "name"] },
    terms: {
      cancellation: "Cancel any time from your billing page: your plan stays active until the end of the period you have paid for, then it ends and you are not charged again.",
      refund:
        "Payments are not refunded for time already used. If we refund a payment in full for the period you are in, your access ends when the refund is made; a partial refund leaves your plan as it is.",
    },
  },
} satisfies z.input<typeof Catalog>;

export const catalog: Catalog = Catalog.parse(CATALOG_DATA);

export function findTier(key: string, from: Catalog = catalog): Tier | undefined {
  return from.tiers.find((t) => t.key === key);
}

export function findPriceByLookupKey(lookupKey: string, from: Catalog = catalog): { tier: Tier; price: Price } | undefined {
  for (const tier of from.tiers) {
    const price = tier.prices.find((p) => p.lookupKey === lookupKey);
    if (price) return { tier, price };
  }
  return undefined;
}

/**
 * The catalog price a Stripe price stands for: by its lookup key or, for a price whose key moved
 * to a newer one (`npm run stripe:setup` archives a price whose amount changed, and its
 * subscribers stay on it), by the key it keeps in `metadata.lookup_key`.
 */
export function catalogPriceOf(price: { lookup_key: string | null; metadata?: Record<string, string> | null }, from: Catalog = catalog): { tier: Tier; price: Price } | undefined {
  const key = price.lookup_key ?? price.metadata?.lookup_key;
  return key ? findPriceByLookupKey(key, from) : undefined;
}

/**
 * Days a past-due subscriber keeps access after the first failed payment of the oldest unpaid
 * invoice: entitlements/state.ts ends the grace on it, and the dunning policy suspends on that
 * same day (dunning/policy.ts checks it).
 */
export const GRACE_DAYS = 21;

/** "Federal Job Advisor Local", from the subscription's catalog tier: the plan as emails name it. */
export function planName(tier: string | null | undefined, from: Catalog = catalog): string {
  const t = tier ? findTier(tier, from) : undefined;
  return t ? `Federal Job Advisor ${t.name}` : "Federal Job Advisor";
}

/** The cheapest (lowest-rank) tier a person can buy that unlocks a feature: the upgrade a denied user is offered. */
export function cheapestTierWith(feature: string, from: Catalog = catalog): Tier | undefined {
  return individualTiers(from)
    .sort((a, b) => a.rank - b.rank)
    .find((t) => t.features.includes(feature));
}

/** The tiers a person buys at Checkout and changes between. */
export function individualTiers(from: Catalog = catalog): Tier[] {
  return from.tiers.filter((t) => t.audience === "individual");
}

/** The organization tier's price for a term of `months` (12, 24, 36), or undefined for a term the policy does not offer. */
export function termPrice(months: number, from: Catalog = catalog): { tier: Tier; price: Price } | undefined {
  const policy = from.policy.organizations;
  const tier = findTier(policy.tier, from);
  if (!tier || !policy.terms.some((t) => t.months === months)) return undefined;
  const price = tier.prices.find((p) => monthsOf(p.billingCycle) === months);
  return price ? { tier, price } : undefined;
}
