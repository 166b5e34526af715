/**
 * How a plan is paid, as the API and the catalog name it (`billing_cycle`: `monthly`, `annual`,
 * `two_year`, `three_year`), and as Stripe names it (a price's `recurring.interval` and
 * `interval_count`: `month` × 1, `year` × 1, 2, 3). The one place the two meet: code that talks
 * to Stripe converts here, everything else says `billing_cycle`.
 */
import { BILLING_CYCLES, PERIOD_OF, type BillingCycle, type Price, type Tier } from "../catalog";
import { invalidInput } from "../errors";

/** Stripe's `recurring` period for a cycle (a price's, a schedule phase's `duration`). */
export function intervalOf(cycle: BillingCycle): { interval: "month" | "year"; interval_count: number } {
  return { ...PERIOD_OF[cycle] };
}

/** The cycle of a Stripe price by its interval and count; null for a period the catalog has no cycle for (weekly, every 6 months). */
export function billingCycle(interval: string | null | undefined, intervalCount = 1): BillingCycle | null {
  return BILLING_CYCLES.find((c) => PERIOD_OF[c].interval === interval && PERIOD_OF[c].interval_count === intervalCount) ?? null;
}

/** The catalog's price of a tier in a cycle; a validation error naming `billing_cycle` when the tier has none. */
export function priceOf(tier: Tier, cycle: BillingCycle): Price {
  const price = tier.prices.find((p) => p.billingCycle === cycle);
  if (!price) throw invalidInput("billing_cycle", `tier ${tier.key} has no ${cycle} price`, `The ${tier.name} tier cannot be billed ${cycle}.`);
  return price;
}
