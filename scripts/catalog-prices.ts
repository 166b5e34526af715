/**
 * The catalog's products and prices in a Stripe account, found by lookup key: the test suites
 * that start their own emulator call this, which is `npm run stripe:setup` without a webhook
 * endpoint (scripts/stripe-setup/), so every Stripe the code meets holds the prices, and the
 * portal's configuration, the same way.
 */
import type Stripe from "stripe";
import { catalog as defaultCatalog, type Catalog } from "../worker/src/catalog.ts";
import { HANDLED_EVENT_TYPES } from "../worker/src/stripe-sync/handled-events.ts";
import { pinnedApiVersion } from "../worker/src/stripe-sync/api-version.ts";
import { runSetup } from "./stripe-setup/index.ts";

/** Creates what is missing (products, prices, the portal's policy); idempotent. */
export async function seedCatalog(stripe: Stripe, catalog: Catalog = defaultCatalog): Promise<void> {
  await runSetup(stripe, {
    target: { catalog, webhookUrl: null, events: HANDLED_EVENT_TYPES, apiVersion: pinnedApiVersion({}), portalReturnUrl: "http://localhost:8787/billing" },
    environment: "test",
    keyMode: "test",
    dryRun: false,
    // No endpoint is made, so no secret is written.
    devVarsPath: "/dev/null",
  });
}
