/**
 * Freshness end to end: the demo app decides from the SDK's cached token, and a cancellation made
 * in Stripe reaches its decision within one poll of the worker's changes feed (plus one token
 * fetch), not when the 10-minute token expires. Worker in workerd, the emulator delivering the
 * webhooks, the demo app through `app.request`.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../examples/job-board/src/index.ts";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { catalog, PERIOD_OF } from "../../worker/src/catalog.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

const ORIGIN = "http://127.0.0.1:3000";
const POLL_MS = 500;
/** One token fetch from the worker in workerd, with room for a loaded machine. */
const TOKEN_FETCH_MS = 1_000;

let emulator: Emulator;
let stripe: Stripe;
let worker: WorkerHarness;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, secretKey: "sk_test_freshness" });
  stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  for (const tier of catalog.tiers) {
    const product = await stripe.products.create({ name: tier.name });
    for (const p of tier.prices)
      await stripe.prices.create({ product: product.id, currency: p.unit.currency, unit_amount: p.unit.amount, recurring: { ...PERIOD_OF[p.billingCycle] }, lookup_key: p.lookupKey });
  }
  const endpoint = await stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/webhooks/stripe", enabled_events: ["*"] });
  worker = await startWorker({ bindings: { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret! } });
  await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });
  app = createApp({
    billingUrl: worker.url,
    serviceKey: worker.serviceKey,
    issuer: worker.issuer,
    audience: worker.audience,
    origin: ORIGIN,
    sessionSecret: "freshness-e2e-secret",
    changesPollIntervalMs: POLL_MS,
  });
}, 120_000);

afterAll(async () => {
  await worker?.dispose();
  await emulator?.stop();
});

describe("freshness: the changes feed reaches the demo app", () => {
  it("denies a user the app allowed a moment ago within one poll interval of their cancellation, without waiting for the token to expire", async () => {
    const signin = await app.request(`${ORIGIN}/signin`, { method: "POST", headers: { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" }, body: "name=fresh", redirect: "manual" });
    const cookie = signin.headers.get("set-cookie")!.split(";")[0]!;
    const nationwide = () => app.request(`${ORIGIN}/jobs/nationwide`, { headers: { cookie } });

    const [price] = (await stripe.prices.list({ lookup_keys: ["mobile_monthly"] })).data;
    const customer = await stripe.customers.create({ metadata: { user_id: "demo_fresh" }, payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price!.id }], metadata: { user_id: "demo_fresh" } });
    await vi.waitFor(async () => expect((await worker.getEntitlement("demo_fresh")).status).toBe("active"), { timeout: 30_000, interval: 50 });
    // Allowed, and the token is now in the app's cache (valid for 10 more minutes).
    expect((await nationwide()).status).toBe(200);

    await stripe.subscriptions.cancel(sub.id);
    await vi.waitFor(async () => expect((await worker.getEntitlement("demo_fresh")).status).toBe("canceled"), { timeout: 30_000, interval: 20 });
    const committed = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - committed < 10_000) {
      status = (await nationwide()).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 25));
    }
    const lag = Date.now() - committed;
    expect(status).toBe(403);
    expect(lag).toBeLessThanOrEqual(POLL_MS + TOKEN_FETCH_MS);
  });
});
