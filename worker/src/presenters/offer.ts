/**
 * The two offers the API shows: the upgrade offer of a locked feature (in tokens, online checks
 * and enforce_tier_access) and the retention offer a cancellation answers with first.
 */
import { z } from "zod";
import type { OfferView } from "../subscriptions";
import { BillingCycle } from "../fields";
import type { UpgradeOffer as UpgradeOfferValue } from "@federal-job-advisor/entitlements";

export const UpgradeOffer = z.object({
  tier: z.string(),
  price: z.object({ amount: z.int().describe("Integer cents per billing cycle"), currency: z.string(), billing_cycle: BillingCycle }),
  url: z.url().describe("The app's page that shows the plan and starts its checkout"),
});
export type UpgradeOfferWire = z.output<typeof UpgradeOffer>;

export function presentUpgradeOffer(o: UpgradeOfferValue): UpgradeOfferWire {
  return { tier: o.tier, price: { amount: o.price.amount, currency: o.price.currency, billing_cycle: o.price.billing_cycle }, url: o.url };
}

export function presentUpgradeOffers(offers: Readonly<Record<string, UpgradeOfferValue>>): Record<string, UpgradeOfferWire> {
  return Object.fromEntries(Object.entries(offers).map(([feature, o]) => [feature, presentUpgradeOffer(o)]));
}

export const RetentionOffer = z.object({
  id: z.string(),
  kind: z.enum(["downgrade", "discount"]),
  description: z.string(),
  to_tier: z.string().optional(),
  percent_off: z.number().optional(),
  duration: z.enum(["once", "repeating"]).optional(),
  duration_in_months: z.int().optional(),
  amount: z.int().optional().describe("Integer cents per billing period under the offer"),
  currency: z.string(),
});
export type RetentionOfferWire = z.output<typeof RetentionOffer>;

/** subscriptions/cancel.ts's offerView already leaves out the terms an offer does not have; the wire shows it as it is. */
export function presentRetentionOffer(o: OfferView): RetentionOfferWire {
  return { ...o };
}
