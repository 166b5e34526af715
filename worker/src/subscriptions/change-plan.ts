/**
 * What a requested plan change means for one subscription, before anything is previewed or
 * changed: which direction it goes, when it takes effect and how Stripe prorates it, all read
 * from the catalog's policy (catalog.ts `policy.change`).
 */
import { catalog as defaultCatalog, findTier, monthsOf, monthsPerPeriod, type BillingCycle, type Catalog, type Price, type Tier } from "../catalog";
import { DomainError, invalidInput } from "../errors";
import type { Services } from "../services";
import { intervalOf, priceOf } from "./cycle";
import { requireRenewing, type Managed } from "./managed";
import { pendingPhase } from "./pending-change";
import { requirePriceId } from "./prices";
import type { Stripe } from "../stripe-sync";

/** `revert`: back to the current plan while a change is scheduled; the scheduled change is dropped. */
export type Direction = "upgrade" | "downgrade" | "cycle_change" | "revert";
export type Effective = "now" | "period_end";
export type Proration = "always_invoice" | "create_prorations" | "none";

export interface ChangePlan {
  managed: Managed;
  tier: Tier;
  cycle: BillingCycle;
  price: Price;
  priceId: string;
  direction: Direction;
  effective: Effective;
  proration: Proration;
  /** The billing cycle changes: a change made now restarts the cycle and is invoiced at once (Stripe invoices any change of `recurring.interval` or `interval_count` so). */
  cycleChange: boolean;
  /** The schedule of a change pending at the period end, which this change replaces or drops. */
  pendingSchedule: string | null;
}

export interface ChangeInput {
  tier: string;
  /** Default: the subscription's current cycle (a tier change keeps how the user pays). */
  billingCycle?: BillingCycle | undefined;
}

/** A price per month, to order plans outside the catalog's ranks. */
function perMonth(p: Stripe.Price | Price): number {
  if ("unit" in p) return p.unit.amount / monthsOf(p.billingCycle);
  return (p.unit_amount ?? 0) / (monthsPerPeriod(p.recurring?.interval ?? "month", p.recurring?.interval_count ?? 1) ?? 1);
}

function directionOf(m: Managed, tier: Tier, price: Price): Exclude<Direction, "revert"> {
  const rankNow = m.tier?.rank;
  if (rankNow !== undefined && tier.rank !== rankNow) return tier.rank > rankNow ? "upgrade" : "downgrade";
  if (rankNow === undefined && perMonth(price) !== perMonth(m.item.price)) return perMonth(price) > perMonth(m.item.price) ? "upgrade" : "downgrade";
  return "cycle_change";
}

export async function planChange(deps: Pick<Services, "stripe" | "clock">, m: Managed, input: ChangeInput, from: Catalog = defaultCatalog): Promise<ChangePlan> {
  requireRenewing(m);
  const tier = findTier(input.tier, from);
  if (!tier) throw invalidInput("tier", "unknown tier", `There is no tier ${input.tier}.`);
  const cycle = input.billingCycle ?? m.cycle ?? "monthly";
  const price = priceOf(tier, cycle);
  const priceId = await requirePriceId(deps, price.lookupKey);
  const pending = await pendingPhase(deps.stripe, m.sub);
  const period = intervalOf(price.billingCycle);
  const cycleChange = (m.item.price.recurring?.interval ?? null) !== period.interval || (m.item.price.recurring?.interval_count ?? 1) !== period.interval_count;
  const base = { managed: m, tier, cycle, price, priceId, cycleChange: false, pendingSchedule: pending?.scheduleId ?? null };
  if (priceId === m.item.price.id) {
    if (pending?.priceId && pending.priceId !== priceId) return { ...base, direction: "revert", effective: "now", proration: "none" };
    throw new DomainError("no_change", `The user ${m.userId} is already on ${tier.name} billed ${cycle}.`, {
      errors: [{ field: "tier", message: "the subscription is already on this tier and billing cycle" }],
    });
  }
  if (pending?.priceId === priceId) {
    throw new DomainError("no_change", `A change to ${tier.name} billed ${cycle} is already scheduled for the end of the period.`, {
      errors: [{ field: "tier", message: "this change is already scheduled" }],
    });
  }
  const direction = directionOf(m, tier, price);
  const plan = { ...base, cycleChange, direction };
  // In a trial nothing has been paid: the plan changes now and the trial keeps its end.
  if (m.sub.status === "trialing") return { ...plan, effective: "now", proration: "none" };
  const policy = from.policy.change;
  switch (direction) {
    case "upgrade":
      return { ...plan, effective: "now", proration: policy.upgrade === "prorate_now" ? "always_invoice" : "create_prorations" };
    case "downgrade":
      if (policy.downgrade === "period_end") return { ...plan, effective: "period_end", proration: "none" };
      return { ...plan, effective: "now", proration: policy.downgrade === "now_credit" ? "create_prorations" : "none" };
    case "cycle_change":
      if (policy.cycle_change === "period_end") return { ...plan, effective: "period_end", proration: "none" };
      return { ...plan, effective: "now", proration: "always_invoice" };
  }
}

/** Whether the change is invoiced the moment it is made (Stripe charges a change of billing cycle at once). */
export function chargedNow(plan: ChangePlan): boolean {
  return plan.effective === "now" && plan.direction !== "revert" && plan.managed.sub.status !== "trialing" && (plan.proration === "always_invoice" || plan.cycleChange);
}
