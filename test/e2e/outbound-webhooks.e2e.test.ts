/**
 * Outbound webhooks end to end, as `npm start` runs the system: the worker in workerd with
 * wrangler.toml's queues, the emulator delivering Stripe's webhooks, crons over HTTP
 * (/cdn-cgi/local/scheduled, what wrangler's /__scheduled serves), and a receiver on loopback.
 * An upgrade through the API reaches the receiver as subscription.updated and
 * entitlement.changed, verified with the `standardwebhooks` package (the spec's reference
 * implementation, which the worker does not use); the receiver fails three times first, and the
 * event comes again after each failure (a 1 s backoff here: WEBHOOK_RETRY_DELAYS) until delivered.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { catalog, PERIOD_OF } from "../../worker/src/catalog.ts";
import { CRONS } from "../../worker/src/cron.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

interface Received {
  status: number;
  body: string;
  headers: Record<string, string>;
}

let emulator: Emulator;
let stripe: Stripe;
let worker: WorkerHarness;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** The receiver answers 500 this many times, then 200. */
let failuresLeft = 3;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = failuresLeft > 0 ? 500 : 200;
      if (failuresLeft > 0) failuresLeft--;
      received.push({ status, body: Buffer.concat(chunks).toString("utf8"), headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "receiver down");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/billing`;

  emulator = await startEmulator({ port: 0, secretKey: "sk_test_outbound" });
  stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  for (const tier of catalog.tiers) {
    const product = await stripe.products.create({ name: tier.name });
    for (const p of tier.prices)
      await stripe.prices.create({ product: product.id, currency: p.unit.currency, unit_amount: p.unit.amount, recurring: { ...PERIOD_OF[p.billingCycle] }, lookup_key: p.lookupKey });
  }
  const endpoint = await stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/webhooks/stripe", enabled_events: ["*"] });
  worker = await startWorker({
    bindings: { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret!, ENVIRONMENT: "development", WEBHOOK_RETRY_DELAYS: "1" },
  });
  await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });
}, 120_000);

afterAll(async () => {
  await worker?.dispose();
  await emulator?.stop();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

/** The minute cron, over HTTP, to its end. */
async function minuteCron(): Promise<void> {
  const res = await fetch(`${worker.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(CRONS.sweep)}`);
  expect(res.ok).toBe(true);
}

describe("outbound webhooks: an upgrade reaches a receiver, signed, retried until delivered", () => {
  it("delivers subscription.updated and entitlement.changed of an upgrade made through the API, each verifiable, the failed one again after each 500 until marked delivered", async () => {
    const userId = "hook_user";
    const [price] = (await stripe.prices.list({ lookup_keys: ["local_monthly"] })).data;
    const customer = await stripe.customers.create({ metadata: { user_id: userId }, payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price!.id }], metadata: { user_id: userId } });
    await vi.waitFor(async () => expect(await worker.getEntitlement(userId)).toMatchObject({ status: "active", tier: "local" }), { timeout: 30_000, interval: 50 });

    const created = await worker.request("/v1/webhook-endpoints", { method: "POST", key: worker.adminKey, json: { url: receiverUrl, events: ["subscription.updated", "entitlement.changed"] } });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; secret: string };

    const upgrade = await worker.request(`/v1/subscriptions/${userId}/change`, { method: "POST", key: worker.serviceKey, json: { tier: "mobile" } });
    expect(upgrade.status, await upgrade.clone().text()).toBe(200);

    // The queue's nudge makes the first attempt; the minute cron makes the retries (1 s apart here).
    const delivered = () => new Set(received.filter((r) => r.status === 200).map((r) => r.headers["webhook-id"]));
    await vi.waitFor(() => expect(received.length).toBeGreaterThan(0), { timeout: 15_000, interval: 50 });
    const deadline = Date.now() + 45_000;
    while (delivered().size < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_100));
      await minuteCron();
    }

    const byId = new Map<string, Received[]>();
    for (const r of received) byId.set(r.headers["webhook-id"]!, [...(byId.get(r.headers["webhook-id"]!) ?? []), r]);
    const events = [...byId].map(([id, rs]) => ({
      id,
      statuses: rs.map((r) => r.status),
      bodies: new Set(rs.map((r) => r.body)),
      parsed: JSON.parse(rs[0]!.body) as { type: string; timestamp: string; data: Record<string, unknown> },
    }));
    expect(events.map((e) => e.parsed.type).sort()).toEqual(["entitlement.changed", "subscription.updated"]);
    // The first event failed three times and came once more after each failure; the other waited
    // behind it (in order per user) and went once.
    expect(events[0]!.statuses).toEqual([500, 500, 500, 200]);
    expect(events[1]!.statuses).toEqual([200]);
    // Same id and body every time; every request verifies under the spec's reference implementation.
    for (const e of events) expect(e.bodies.size).toBe(1);
    const wh = new Webhook(endpoint.secret);
    for (const r of received) {
      expect(r.headers["content-type"]).toBe("application/json");
      expect(wh.verify(r.body, { "webhook-id": r.headers["webhook-id"]!, "webhook-timestamp": r.headers["webhook-timestamp"]!, "webhook-signature": r.headers["webhook-signature"]! })).toBeTruthy();
    }
    const sub = events.find((e) => e.parsed.type === "subscription.updated")!.parsed;
    expect(sub.data).toMatchObject({ user_id: userId, subscription: { user_id: userId, tier: "mobile", status: "active" } });
    const ent = events.find((e) => e.parsed.type === "entitlement.changed")!.parsed;
    expect(ent.data).toMatchObject({ user_id: userId, before: { tier: "local", status: "active" }, after: { tier: "mobile", status: "active" } });
    expect(ent.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const list = (await (await worker.request(`/v1/webhook-endpoints/${endpoint.id}/deliveries`, { key: worker.adminKey })).json()) as {
      data: { event_id: string; status: string; attempts: { status_code: number | null; duration_ms: number; response_excerpt: string | null }[] }[];
    };
    const first = list.data.find((d) => d.event_id === events[0]!.id)!;
    expect(list.data.map((d) => d.status)).toEqual(["delivered", "delivered"]);
    expect(first.attempts.map((a) => a.status_code)).toEqual([500, 500, 500, 200]);
    expect(first.attempts[0]!.response_excerpt).toBe("receiver down");
  });
});
