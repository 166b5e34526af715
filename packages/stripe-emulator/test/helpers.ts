import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { startEmulator, type Emulator, type EmulatorOptions } from "../src/index.ts";

export interface Harness {
  em: Emulator;
  stripe: Stripe;
  stop(): Promise<void>;
}

export async function start(options: EmulatorOptions = {}): Promise<Harness> {
  const em = await startEmulator({ port: 0, retrySchedule: [20, 40, 80], ...options });
  const stripe = new Stripe(em.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: em.port, protocol: "http", maxNetworkRetries: 0, telemetry: false });
  return { em, stripe, stop: () => em.stop() };
}

export interface Received {
  body: string;
  signature: string;
}

/** A webhook receiver on 127.0.0.1; `status` decides the reply (e.g. fail the first tries). */
export async function receiver(status: (r: Received, n: number) => number = () => 200): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { body: Buffer.concat(chunks).toString("utf8"), signature: String(req.headers["stripe-signature"] ?? "") };
      received.push(r);
      res.writeHead(status(r, received.length));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr: AddressInfo | string | null = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const T0 = 1767225600; // 2026-01-01T00:00:00Z
export const DAY = 86_400;

export async function catalog(stripe: Stripe): Promise<{ local: Stripe.Price; mobile: Stripe.Price }> {
  const product = await stripe.products.create({ name: "Federal Job Advisor" });
  const local = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 2900, recurring: { interval: "month" }, lookup_key: "local_monthly" });
  const mobile = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 4900, recurring: { interval: "month" }, lookup_key: "mobile_monthly" });
  return { local, mobile };
}

/** A customer on a fresh test clock at T0 with the given card as default payment method. */
export async function clockCustomer(stripe: Stripe, card = "pm_card_visa", address?: Stripe.AddressParam): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer }> {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const pm = await stripe.paymentMethods.attach(card, { customer: (await stripe.customers.create({ test_clock: clock.id, email: "user@example.com", ...(address ? { address } : {}) })).id });
  const customerId = typeof pm.customer === "string" ? pm.customer : "";
  const customer = await stripe.customers.update(customerId, { invoice_settings: { default_payment_method: pm.id } });
  return { clock, customer };
}

export async function eventTypes(stripe: Stripe, filter: (e: Stripe.Event) => boolean = () => true): Promise<string[]> {
  const out: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100 })) out.push(e);
  return out
    .reverse()
    .filter(filter)
    .map((e) => e.type);
}

/** Parses a fetch response body as the caller's expected shape (test-side typing only). */
export async function jsonOf<T>(res: Response): Promise<T> {
  return JSON.parse(await res.text());
}
