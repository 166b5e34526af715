/**
 * What a requested plan change means for one subscription, before anything is previewed or
 * changed: which direction it goes, when it takes effect and how Stripe prorates it, all read
 * from the catalog's policy (catalog.ts `policy.change`).
 */
import { catalog as defaultCatalog, findTier, type Catalog, type Price, type Tier } from "../catalog";
import { DomainError } from "../errors";
import type { Services } from "../services";
import type { Managed } from "./managed";
import { targetPrice } from "./managed";
import { priceIds } from "./prices";
import type { Stripe } from "./stripe";
import type { BillingCycle } from "./subscription-view";

export type Direction = "upgrade" | "downgrade" | "cycle_change";
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
  /** The schedule of a change pending at the period end, which this change replaces or undoes. */
  pendingSchedule: string | null;
  /** Changing back to the current plan while a change is pending: the pending change is dropped. */
  revert: boolean;
}

export interface ChangeInput {
  tier: string;
  /** Default: the subscription's current cycle (a tier change keeps how the user pays). */
  billingCycle?: BillingCycle | undefined;
}

const invalid = (field: string, message: string, detail: string) => new DomainError("validation_failed", detail, { errors: [{ field, message }] });

/** The price the next phase of the subscription's schedule moves to, when one is pending. */
export async function pendingPriceId(stripe: Stripe, sub: Stripe.Subscription): Promise<{ scheduleId: string; priceId: string | null } | null> {
  if (!sub.schedule) return null;
  const schedule = typeof sub.schedule === "string" ? await stripe.subscriptionSchedules.retrieve(sub.schedule) : sub.schedule;
  if (schedule.status !== "active" && schedule.status !== "not_started") return null;
  const currentEnd = schedule.current_phase?.end_date ?? null;
  const next = currentEnd === null ? undefined : schedule.phases.find((p) => p.start_date >= currentEnd);
  const ref = next?.items[0]?.price;
  return { scheduleId: schedule.id, priceId: ref === undefined ? null : typeof ref === "string" ? ref : ref.id };
}

function monthlyAmount(p: Stripe.Price | Price): number {
  if ("unit" in p) return p.interval === "year" ? p.unit.amount / 12 : p.unit.amount;
  return p.recurring?.interval === "year" ? (p.unit_amount ?? 0) / 12 : (p.unit_amount ?? 0);
}

export async function planChange(deps: Pick<Services, "stripe" | "clock">, m: Managed, input: ChangeInput, from: Catalog = defaultCatalog): Promise<ChangePlan> {
  const tier = findTier(input.tier, from);
  if (!tier) throw invalid("tier", "unknown tier", `There is no tier ${input.tier}.`);
  const cycle = input.billingCycle ?? m.cycle ?? "monthly";
  const price = targetPrice(tier, cycle);
  const priceId = (await priceIds(deps, [price.lookupKey])).get(price.lookupKey) ?? null;
  if (priceId === null) {
    throw new DomainError("config_invalid", `Stripe has no active price with the lookup key ${price.lookupKey}; create it (npm start does locally).`, {
      errors: [{ field: "STRIPE_SECRET_KEY", message: `no price with lookup key ${price.lookupKey} in this Stripe account` }],
    });
  }
  const pending = await pendingPriceId(deps.stripe, m.sub);
  const base = { managed: m, tier, cycle, price, priceId, pendingSchedule: pending?.scheduleId ?? null };
  if (priceId === m.item.price.id) {
    if (pending && pending.priceId !== null && pending.priceId !== priceId) return { ...base, direction: "cycle_change", effective: "now", proration: "none", revert: true };
    throw new DomainError("no_change", `The user ${m.userId} is already on ${tier.name} billed ${cycle}.`, { errors: [{ field: "tier", message: "the subscription is already on this tier and billing cycle" }] });
  }
  if (pending && pending.priceId === priceId) {
    throw new DomainError("no_change", `A change to ${tier.name} billed ${cycle} is already scheduled for the end of the period.`, { errors: [{ field: "tier", message: "this change is already scheduled" }] });
  }
  const rankNow = m.tier?.rank;
  const direction: Direction =
    rankNow !== undefined && tier.rank !== rankNow
      ? tier.rank > rankNow
        ? "upgrade"
        : "downgrade"
      : rankNow === undefined && monthlyAmount(price) !== monthlyAmount(m.item.price)
        ? monthlyAmount(price) > monthlyAmount(m.item.price)
          ? "upgrade"
          : "downgrade"
        : "cycle_change";
  // In a trial nothing has been paid: the plan changes now and the trial keeps its end.
  if (m.sub.status === "trialing") return { ...base, direction, effective: "now", proration: "none", revert: false };
  const policy = from.policy.change;
  switch (direction) {
    case "upgrade":
      return { ...base, direction, effective: "now", proration: policy.upgrade === "prorate_now" ? "always_invoice" : "create_prorations", revert: false };
    case "downgrade":
      if (policy.downgrade === "period_end") return { ...base, direction, effective: "period_end", proration: "none", revert: false };
      return { ...base, direction, effective: "now", proration: policy.downgrade === "now_credit" ? "create_prorations" : "none", revert: false };
    case "cycle_change":
      if (policy.cycle_change === "period_end") return { ...base, direction, effective: "period_end", proration: "none", revert: false };
      return { ...base, direction, effective: "now", proration: "always_invoice", revert: false };
  }
}
