import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
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
 *
 * EMULATOR_CPU_PROFILE=<file>: writes a V8 CPU profile of this process (the emulator, and vitest's
 * own main thread) for the whole run, to see where the emulator spends its time (open it in
 * Chrome DevTools or `npx speedscope`).
 */
export default async function setup(project: TestProject) {
  const profile = process.env.EMULATOR_CPU_PROFILE ? await startProfile() : null;
  const emulator = await startEmulator({ port: 0, secretKey: "sk_test_worker_suite", taxRates: { "US-CA": 725 } });
  const base = new URL(emulator.url);
  const stripe = new Stripe(emulator.secretKey, { host: base.hostname, port: base.port, protocol: "http" });
  await seedCatalog(stripe);
  project.provide("stripeApiBase", emulator.url);
  project.provide("stripeSecretKey", emulator.secretKey);
  return async () => {
    await emulator.stop();
    if (profile) await profile(`${process.env.EMULATOR_CPU_PROFILE}.${project.name}.cpuprofile`);
  };
}

async function startProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async (file) => {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}
