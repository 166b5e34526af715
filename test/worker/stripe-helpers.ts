import { env, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import type { IncomingEvent } from "../../worker/src/stripe-sync/events";
import { cryptoProvider, Stripe, stripeClient } from "../../worker/src/stripe-sync/stripe";
import { getDb } from "../../worker/src/db/client";
import { stripeEvents } from "../../worker/src/db/schema";
import { stripeConfig } from "../../worker/src/env";
import { BASE } from "./helpers";

export const stripe = () => stripeClient(stripeConfig(env));

/** A Stripe event as the webhook path stores it (for tests that put events in the inbox directly). */
export function webhookEvent(event: Stripe.Event, opts: { receivedAt?: number; needsProcessing?: boolean } = {}): IncomingEvent {
  return { event, payload: JSON.stringify(event), source: "webhook", receivedAt: opts.receivedAt ?? Date.now(), needsProcessing: opts.needsProcessing ?? true };
}
export const db = () => getDb(env.DB);

/** A Stripe event as Stripe sends one (this account's API version, one pending webhook), around `object`. */
export function stripeEvent(id: string, type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id,
    object: "event",
    type,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    api_version: "2026-10-28.endive",
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
    ...extra,
  };
}

export async function sign(payload: string, secret = "whsec_test_current", timestamp = Math.floor(Date.now() / 1000)): Promise<string> {
  return Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret, timestamp, cryptoProvider });
}

export async function deliver(event: Stripe.Event | Record<string, unknown>, opts: { secret?: string; timestamp?: number; header?: string | null } = {}): Promise<Response> {
  const payload = JSON.stringify(event);
  const headers: Record<string, string> = { "content-type": "application/json" };
  const header = opts.header === undefined ? await sign(payload, opts.secret, opts.timestamp) : opts.header;
  if (header !== null) headers["stripe-signature"] = header;
  return SELF.fetch(`${BASE}/webhooks/stripe`, { method: "POST", headers, body: payload });
}

/**
 * Waits until the event is stored (by the queue consumer, after the 200) and its processing
 * has finished.
 */
export async function settled(id: string, timeoutMs = 10_000): Promise<string> {
  const started = Date.now();
  // Plain SQL bound once: building the query through drizzle on every 20 ms turn was this suite's
  // largest single use of drizzle, in tests that mostly wait here.
  const read = env.DB.prepare("select status, lease_until as leaseUntil, attempts from stripe_events where id = ?").bind(id);
  for (;;) {
    const row = await read.first<{ status: string; leaseUntil: number | null; attempts: number }>();
    // Done, or an attempt finished and failed (the row waits for its retry).
    if (row && (row.status !== "pending" || (row.attempts > 0 && row.leaseUntil === null))) return row.status;
    if (Date.now() - started > timeoutMs) return row?.status ?? "missing";
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until the queue consumer has handled every message sent so far: sends a signed sentinel
 * event, waits for its row, then until no row received before it is still unclaimed or under a
 * live lease (the consumer processes a batch after storing it), then deletes the sentinel so
 * counts of stripe_events are unchanged. Miniflare may run two batches at once, so the sentinel
 * alone proves nothing about the others.
 */
export async function drained(timeoutMs = 10_000): Promise<void> {
  const id = `evt_drain_${Date.now()}_${Math.random().toString(36).slice(2)}`;
  const res = await deliver(stripeEvent(id, "charge.succeeded", { id: "ch_drain", object: "charge" }));
  if (res.status !== 200) throw new Error(`sentinel delivery failed: HTTP ${res.status}`);
  const status = await settled(id, timeoutMs);
  if (status === "missing") throw new Error("the queue consumer did not store the sentinel in time");
  const sentinel = await db().select({ receivedAt: stripeEvents.receivedAt }).from(stripeEvents).where(eq(stripeEvents.id, id)).get();
  const started = Date.now();
  for (;;) {
    const busy = await env.DB.prepare("select count(*) as n from stripe_events where status = 'pending' and (attempts = 0 or lease_until is not null) and received_at <= ?")
      .bind(sentinel!.receivedAt)
      .first<{ n: number }>();
    if (!busy?.n) break;
    if (Date.now() - started > timeoutMs) throw new Error(`${busy.n} stored events were still waiting for processing`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await db().delete(stripeEvents).where(eq(stripeEvents.id, id));
}

/**
 * Every event the emulator has emitted, oldest first, as this runtime has listed them so far
 * (files share a runtime and the suite's one emulator, so this list grows with the whole run).
 * An emitted event never changes but for its pending_webhooks count, which the worker does not
 * read: each listing fetches only the events newer than the newest one known, where listing
 * them all on every call made each file slower than the one before it.
 */
interface EventCache {
  events: Stripe.Event[];
  ids: Set<string>;
  listing: Promise<void>;
}
const eventCaches: Map<string, EventCache> = ((globalThis as { __emulatorEvents?: Map<string, EventCache> }).__emulatorEvents ??= new Map());

async function allEvents(): Promise<readonly Stripe.Event[]> {
  const base = env.STRIPE_API_BASE ?? "";
  let cache = eventCaches.get(base);
  if (!cache) eventCaches.set(base, (cache = { events: [], ids: new Set(), listing: Promise.resolve() }));
  const c = cache;
  // One listing at a time: two at once would both add the same new events.
  const listing = c.listing
    .catch(() => undefined)
    .then(async () => {
      const fresh: Stripe.Event[] = [];
      let reachedKnown = false;
      // The list runs newest emitted first: past an event already known, every older one is known too.
      for await (const e of stripe().events.list({ limit: 100 })) {
        if (c.ids.has(e.id)) {
          reachedKnown = true;
          break;
        }
        fresh.push(e);
      }
      // No known event left in the list (the first listing, or the emulator was reset): start over.
      if (!reachedKnown) {
        c.events = [];
        c.ids.clear();
      }
      for (const e of fresh.reverse()) {
        c.events.push(e);
        c.ids.add(e.id);
      }
    });
  c.listing = listing;
  await listing;
  return c.events;
}

/** Every event the emulator has for an object, oldest first; with `after`, only those emitted after the newest event in it. */
export async function eventsFor(objectIds: string[], after?: ReadonlySet<string>): Promise<Stripe.Event[]> {
  const all = await allEvents();
  const out: Stripe.Event[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const e = all[i]!;
    if (after?.has(e.id)) break;
    const obj = e.data.object as { id?: string };
    // A copy: a caller may change the event it delivers, which must not change the next caller's.
    if (obj.id && objectIds.includes(obj.id)) out.push(structuredClone(e));
  }
  return out.reverse();
}

/**
 * Delivers every event about the customer, its subscription and its invoices that is not in
 * `seen` yet, each processed before the next; returns `seen` with them added.
 */
export async function deliverAll(ids: { customer: string; sub: string }, seen = new Set<string>()): Promise<Set<string>> {
  const invoiceIds = (await stripe().invoices.list({ customer: ids.customer, limit: 100 })).data.map((i) => i.id);
  for (const e of await eventsFor([ids.customer, ids.sub, ...invoiceIds])) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    await deliver(e);
    await settled(e.id);
  }
  return seen;
}

/** What the buyer does on Checkout's hosted page: pay with a test card from a Californian address (taxed 7.25 % by the suite's emulator). */
export async function completeCheckout(sessionId: string, card = "pm_card_visa"): Promise<Stripe.Checkout.Session> {
  const res = await fetch(`${env.STRIPE_API_BASE}/v1/test_helpers/checkout/sessions/${sessionId}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.STRIPE_SECRET_KEY}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: card, "address[country]": "US", "address[state]": "CA", "address[postal_code]": "94107" }).toString(),
  });
  if (res.status !== 200) throw new Error(`completing ${sessionId} failed: HTTP ${res.status} ${await res.text()}`);
  return stripe().checkout.sessions.retrieve(sessionId);
}

let seq = 0;
export async function subscriber(
  opts: { userId?: string; lookupKey?: "local_monthly" | "mobile_monthly" | "local_annual" | "mobile_annual"; card?: string; trialDays?: number; testClock?: string } = {},
) {
  const s = stripe();
  const userId = opts.userId ?? `user_${Date.now().toString(36)}_${++seq}`;
  const price = await ensurePrice(opts.lookupKey ?? "local_monthly");
  const customer = await s.customers.create({
    email: `${userId}@example.test`,
    metadata: { user_id: userId },
    payment_method: opts.card ?? "pm_card_visa",
    invoice_settings: { default_payment_method: opts.card ?? "pm_card_visa" },
    ...(opts.testClock ? { test_clock: opts.testClock } : {}),
  });
  const sub = await s.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    metadata: { user_id: userId, tier: price.lookup_key!.split("_")[0]! },
    ...(opts.trialDays ? { trial_period_days: opts.trialDays } : {}),
  });
  return { userId, customer, sub };
}

const prices = new Map<string, Promise<Stripe.Price>>();
export function ensurePrice(lookupKey: "local_monthly" | "mobile_monthly" | "local_annual" | "mobile_annual"): Promise<Stripe.Price> {
  let p = prices.get(lookupKey);
  if (!p) {
    p = (async () => {
      const s = stripe();
      const found = await s.prices.list({ lookup_keys: [lookupKey], limit: 1 });
      if (found.data[0]) return found.data[0];
      const product = await s.products.create({ name: lookupKey.startsWith("local") ? "Local" : "Mobile" });
      if (lookupKey.endsWith("annual")) throw new Error(`${lookupKey} is seeded by the suite's global setup from the catalog`);
      return s.prices.create({ product: product.id, currency: "usd", unit_amount: lookupKey.startsWith("local") ? 2900 : 4900, recurring: { interval: "month" }, lookup_key: lookupKey });
    })();
    prices.set(lookupKey, p);
  }
  return p;
}

/** A test clock, and a way to move it forward and wait until Stripe has run everything due. */
export async function testClock(startSeconds?: number) {
  const s = stripe();
  let frozen = startSeconds ?? Math.floor(Date.now() / 1000);
  const clock = await s.testHelpers.testClocks.create({ frozen_time: frozen });
  return {
    id: clock.id,
    /** Moves to an absolute time (ms). */
    async advanceTo(ms: number) {
      await this.advanceDays((Math.floor(ms / 1000) - frozen) / 86_400);
    },
    async advanceDays(days: number) {
      frozen += Math.round(days * 86_400);
      await s.testHelpers.testClocks.advance(clock.id, { frozen_time: frozen });
      for (let i = 0; i < 500; i++) {
        if ((await s.testHelpers.testClocks.retrieve(clock.id)).status === "ready") return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error("test clock did not become ready");
    },
  };
}
