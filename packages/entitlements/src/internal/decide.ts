import type { BillingCycle, Decision, DecisionReason, EntitlementClaims, Price, UpgradeOffer } from "../claims.js";

/** Precomputed answers for one verified claims object: `can()` is then one Map lookup. */
export interface DecisionIndex {
  readonly decisions: Map<string, Decision>;
  /** The answer for any feature not in `decisions`. */
  readonly other: Decision;
  /** `limits` as a Map; empty when the status denies access. */
  readonly limits: Map<string, number | null>;
}

/** Hidden, non-enumerable slot on claims returned by `verify()`. */
export const INDEX: unique symbol = Symbol("entitlements.index");
export type Indexed = EntitlementClaims & { readonly [INDEX]?: DecisionIndex };

const DENY_REASON: Readonly<Record<string, DecisionReason>> = {
  trial_expired: "trial_expired",
  suspended: "suspended",
  canceled: "canceled",
  none: "no_subscription",
};

function day(s: number): string {
  return new Date(s * 1000).toISOString().slice(0, 10);
}
function title(tier: string): string {
  return tier.charAt(0).toUpperCase() + tier.slice(1);
}
/** Each billing cycle's period, as a price is written (`$29/month`). */
export const PERIODS: Readonly<Record<BillingCycle, string>> = { monthly: "month", annual: "year", two_year: "2 years", three_year: "3 years" };
export function formatPrice(p: Price): string {
  const cur = p.currency.toUpperCase();
  const units = p.amount % 100 === 0 ? String(p.amount / 100) : (p.amount / 100).toFixed(2);
  return `${cur === "USD" ? `$${units}` : `${units} ${cur}`}/${PERIODS[p.billing_cycle]}`;
}
function offer(u: UpgradeOffer): string {
  return `${title(u.tier)} (${formatPrice(u.price)})`;
}

function deny(reason: DecisionReason, c: EntitlementClaims, u: UpgradeOffer | undefined): Decision {
  let message: string;
  switch (reason) {
    case "not_in_tier":
      message = `Upgrade to ${offer(u!)} to use this feature.`;
      break;
    case "trial_expired":
      message = `Your free trial has ended. ${u ? `Subscribe to ${offer(u)}` : "Subscribe"} to continue.`;
      break;
    case "suspended":
      message = "Your access is suspended because a payment failed. Update your payment method to restore it.";
      break;
    case "paused":
      message = "Your subscription is paused. Resume it to use this feature.";
      break;
    case "canceled":
      message = `Your subscription was canceled. ${u ? `Subscribe to ${offer(u)}` : "Resubscribe"} to use this feature.`;
      break;
    case "no_subscription":
      message = `${u ? `Subscribe to ${offer(u)}` : "Subscribe"} to use this feature.`;
      break;
    default:
      message = "This feature is not available.";
  }
  const d: { -readonly [K in keyof Decision]: Decision[K] } = { allowed: false, reason, message, as_of: c.iat };
  if (u) d.upgrade = u;
  if (reason === "suspended" || reason === "paused" || reason === "trial_expired" || reason === "canceled" || reason === "no_subscription") {
    d.billing_url = c.billing_url;
  }
  return Object.freeze(d);
}

export function buildIndex(c: EntitlementClaims): DecisionIndex {
  const decisions = new Map<string, Decision>();
  const limits = new Map<string, number | null>();
  const upgradeKeys = Object.keys(c.upgrade);
  // A paused user keeps the features the worker still lists (its policy); without any, denied.
  const denyReason = c.status === "paused" ? (c.features.length === 0 ? "paused" : undefined) : DENY_REASON[c.status];

  if (denyReason !== undefined) {
    const other = deny(denyReason, c, undefined);
    for (const k of upgradeKeys) decisions.set(k, deny(denyReason, c, c.upgrade[k]));
    return { decisions, other, limits };
  }

  let allowed: Decision;
  if (c.status === "trialing") {
    const end = c.trial_end ?? null;
    allowed = Object.freeze({
      allowed: true,
      reason: "trialing",
      message: end ? `Included in your free trial until ${day(end)}.` : "Included in your free trial.",
      trial_end: end,
      as_of: c.iat,
    });
  } else if (c.status === "past_due") {
    const grace = c.grace_until ?? null;
    allowed = Object.freeze({
      allowed: true,
      reason: "payment_past_due",
      message: `Your last payment failed. Update your payment method${grace ? ` before ${day(grace)}` : ""} to keep access.`,
      billing_url: c.billing_url,
      grace_until: grace,
      as_of: c.iat,
    });
  } else {
    allowed = Object.freeze({ allowed: true, reason: "included", as_of: c.iat });
  }
  for (const k of upgradeKeys) decisions.set(k, deny("not_in_tier", c, c.upgrade[k]));
  for (const f of c.features) decisions.set(f, allowed);
  for (const k of Object.keys(c.limits)) limits.set(k, c.limits[k] as number | null);
  return { decisions, other: deny("unknown_feature", c, undefined), limits };
}

/** Freezes `claims` with its index in a hidden slot (what `verify()` returns). */
export function attachIndex(c: EntitlementClaims): EntitlementClaims {
  Object.defineProperty(c, INDEX, { value: buildIndex(c), enumerable: false });
  return Object.freeze(c);
}

const byObject = new WeakMap<object, DecisionIndex>();
/** The index of claims that did not come from `verify()` (built once per object). */
export function indexOf(c: EntitlementClaims): DecisionIndex {
  const hit = (c as Indexed)[INDEX];
  if (hit !== undefined) return hit;
  let idx = byObject.get(c);
  if (idx === undefined) byObject.set(c, (idx = buildIndex(c)));
  return idx;
}

const UNAVAILABLE_MESSAGE = "Your access cannot be checked right now. Please try again shortly.";
/** The decision when no valid token is available. */
export function unavailable(error: string, failOpen: boolean): Decision {
  return Object.freeze(
    failOpen
      ? { allowed: true, reason: "unavailable", error, message: "Access allowed while entitlements are unavailable (fail-open).", as_of: null }
      : { allowed: false, reason: "unavailable", error, message: UNAVAILABLE_MESSAGE, as_of: null },
  );
}
