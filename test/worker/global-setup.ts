import Stripe from "stripe";
import type { TestProject } from "vitest/node";
import { startEmulator } from "../../packages/stripe-emulator/src/index";
import { catalog, PERIOD_OF } from "../../worker/src/catalog";

declare module "vitest" {
  interface ProvidedContext {
    stripeApiBase: string;
    stripeSecretKey: string;
  }
}

/**
 * One offline Stripe for the worker suite; the worker in workerd reaches it over loopback HTTP.
 * It holds the catalog's prices (by lookup key), as `npm start` seeds them and Stripe would
 * have them, so Checkout and the catalog's price ids work in every file.
 */
export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ port: 0, secretKey: "sk_test_worker_suite", taxRates: { "US-CA": 725 } });
  const base = new URL(emulator.url);
  const stripe = new Stripe(emulator.secretKey, { host: base.hostname, port: base.port, protocol: "http" });
  for (const tier of catalog.tiers) {
    const product = await stripe.products.create({ name: tier.name, metadata: { tier: tier.key } });
    for (const p of tier.prices) {
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
  project.provide("stripeApiBase", emulator.url);
  project.provide("stripeSecretKey", emulator.secretKey);
  return async () => emulator.stop();
}
