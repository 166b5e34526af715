/**
 * How a plan is paid, as the API and the catalog name it (`billing_cycle`: `monthly`, `annual`),
 * and as Stripe names it (a price's `recurring.interval`: `month`, `year`). The one place the
 * two meet: code that talks to Stripe converts here, everything else says `billing_cycle`.
 */
import { PERIOD_OF, type BillingCycle, type Price, type Tier } from "../catalog";
import { invalidInput } from "../errors";

/** Stripe's `recurring.interval` for a cycle. */
export function intervalOf(cycle: BillingCycle): "month" | "year" {
  return PERIOD_OF[cycle];
}

/** The cycle of a Stripe price that bills every month or every year; null for any other interval. */
export function billingCycle(interval: string | null | undefined, intervalCount = 1): BillingCycle | null {
  if (intervalCount !== 1) return null;
  if (interval === "month") return "monthly";
  if (interval === "year") return "annual";
  return null;
}

/** The catalog's price of a tier in a cycle; a validation error naming `billing_cycle` when the tier has none. */
export function priceOf(tier: Tier, cycle: BillingCycle): Price {
  const price = tier.prices.find((p) => p.billingCycle === cycle);
  if (!price) throw invalidInput("billing_cycle", `tier ${tier.key} has no ${cycle} price`, `The ${tier.name} tier cannot be billed ${cycle}.`);
  return price;
}
