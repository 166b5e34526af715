/**
 * Token claims from an entitlement state and the catalog. The contract is the SDK's own type
 * (@federal-job-advisor/entitlements), so the worker cannot sign a claim the SDK would not read.
 */
import type { EntitlementClaims, UpgradeOffer } from "@federal-job-advisor/entitlements";
import { cheapestTierWith, type Catalog, catalog as defaultCatalog } from "../catalog";
import type { ClaimsConfig } from "./config";
import { effectiveState, grants, type EntitlementState } from "./state";

export { grants };

export type { ClaimsConfig, EntitlementClaims };

export function upgradeOffers(features: readonly string[], appBaseUrl: string, from: Catalog = defaultCatalog): Record<string, UpgradeOffer> {
  const have = new Set(features);
  const offers: Record<string, UpgradeOffer> = {};
  for (const f of from.features) {
    if (have.has(f.key)) continue;
    const tier = cheapestTierWith(f.key, from);
    const price = tier?.prices.find((p) => p.billingCycle === "monthly") ?? tier?.prices[0];
    if (!tier || !price) continue;
    offers[f.key] = {
      tier: tier.key,
      price: { amount: price.unit.amount, currency: price.unit.currency, billing_cycle: price.billingCycle },
      url: `${appBaseUrl}/billing/upgrade?tier=${encodeURIComponent(tier.key)}`,
    };
  }
  return offers;
}

/**
 * @param nowMs real time: the token's iat and exp.
 * @param customerNowMs the customer's time, on which the grace is decided (a Stripe test clock's
 *   in test mode; test-clocks.ts); real time by default.
 */
export function buildClaims(stored: EntitlementState, config: ClaimsConfig, nowMs: number, customerNowMs: number = nowMs, from: Catalog = defaultCatalog): EntitlementClaims {
  const state = effectiveState(stored, customerNowMs);
  const iat = Math.floor(nowMs / 1000);
  const { features, limits } = grants(state, from);
  const toSeconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  return {
    iss: config.issuer,
    aud: config.audience,
    sub: state.userId,
    iat,
    exp: iat + config.ttlSeconds,
    tier: state.tier,
    status: state.status,
    features,
    limits,
    trial_end: toSeconds(state.trialEnd),
    grace_until: toSeconds(state.graceUntil),
    upgrade: upgradeOffers(features, config.appBaseUrl, from),
    billing_url: `${config.appBaseUrl}/billing`,
    // Only on a seat holder's token: the organization whose seat it is.
    ...(state.orgId !== null ? { org_id: state.orgId } : {}),
  };
}
