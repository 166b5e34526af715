import Stripe from "stripe";
import type { TestProject } from "vitest/node";
import { startEmulator } from "../../packages/stripe-emulator/src/index";
import { seedCatalog } from "../../scripts/catalog-prices";

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
  await seedCatalog(stripe);
  project.provide("stripeApiBase", emulator.url);
  project.provide("stripeSecretKey", emulator.secretKey);
  return async () => emulator.stop();
}
