import type { TestProject } from "vitest/node";
import { startEmulator } from "../../packages/stripe-emulator/src/index";

declare module "vitest" {
  interface ProvidedContext {
    stripeApiBase: string;
    stripeSecretKey: string;
  }
}

/** One offline Stripe for the worker suite; the worker in workerd reaches it over loopback HTTP. */
export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ port: 0, secretKey: "sk_test_worker_suite", taxRates: { "US-CA": 725 } });
  project.provide("stripeApiBase", emulator.url);
  project.provide("stripeSecretKey", emulator.secretKey);
  return async () => emulator.stop();
}
