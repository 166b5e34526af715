/**
 * The catalog's products and prices in a Stripe account, found by lookup key: `npm start` runs it
 * against the emulator, and the test suites that start their own emulator use the same function,
 * so every Stripe the code meets holds the prices the same way.
 */
import type Stripe from "stripe";
import { catalog, PERIOD_OF } from "../worker/src/catalog.ts";

/** Creates what is missing (a product per tier with missing prices, then those prices); idempotent. */
export async function seedCatalog(stripe: Stripe): Promise<void> {
  for (const tier of catalog.tiers) {
    const existing = await stripe.prices.list({ lookup_keys: tier.prices.map((p) => p.lookupKey), limit: 10 });
    const have = new Set(existing.data.map((p) => p.lookup_key));
    const missing = tier.prices.filter((p) => !have.has(p.lookupKey));
    if (missing.length === 0) continue;
    const product = await stripe.products.create({ name: `Federal Job Advisor ${tier.name}`, metadata: { tier: tier.key } });
    for (const p of missing) {
      await stripe.prices.create({
        product: product.id,
        currency: p.unit.currency,
        unit_amount: p.unit.amount,
        recurring: { interval: PERIOD_OF[p.billingCycle] },
        lookup_key: p.lookupKey,
        metadata: { tier: tier.key },
      });
    }
  }
}
