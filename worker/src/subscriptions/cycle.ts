/**
 * How a plan is paid, as the API names it (`monthly`, `annual`), and as Stripe and the catalog
 * name it (a price's `recurring.interval`: `month`, `year`). The one place the two meet.
 */
import type { Interval } from "../catalog";

export const BILLING_CYCLES = ["monthly", "annual"] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];

const INTERVAL: Record<BillingCycle, Interval> = { monthly: "month", annual: "year" };

export function intervalOf(cycle: BillingCycle): Interval {
  return INTERVAL[cycle];
}

/** The cycle of a price that bills every month or every year; null for any other interval. */
export function billingCycle(interval: string | null | undefined, intervalCount = 1): BillingCycle | null {
  if (intervalCount !== 1) return null;
  if (interval === "month") return "monthly";
  if (interval === "year") return "annual";
  return null;
}
