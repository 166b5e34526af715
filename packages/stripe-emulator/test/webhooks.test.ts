import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { jsonOf, receiver, start, type Harness } from "./helpers.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(options: Parameters<typeof start>[0] = {}, status?: Parameters<typeof receiver>[0]): Promise<Harness & { rx: Awaited<ReturnType<typeof receiver>>; secret: string }> {
  const h = await start(options);
  const rx = await receiver(status);
  cleanups.push(
    () => h.stop(),
    () => rx.close(),
  );
  const ep = await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["*"] });
  expect(ep.secret).toMatch(/^whsec_/);
  return { ...h, rx, secret: ep.secret ?? "" };
}

describe("webhooks: happy path", () => {
  it("delivers signed events that stripe.webhooks.constructEventAsync accepts", async () => {
    const h = await setup();
    const c = await h.stripe.customers.create({ email: "w@example.com" });
    await h.stripe.customers.update(c.id, { name: "Ada" });
    await h.em.idle();
    expect(h.rx.received.length).toBe(2);
    const events = await Promise.all(h.rx.received.map((r) => h.stripe.webhooks.constructEventAsync(r.body, r.signature, h.secret)));
    expect(events.map((e) => e.type)).toEqual(["customer.created", "customer.updated"]);
    const updated = events[1];
    if (updated?.type !== "customer.updated") throw new Error("expected customer.updated");
    expect(updated.data.object.name).toBe("Ada");
    expect(updated.data.previous_attributes).toEqual({ name: null });
    expect(updated.api_version).toBe("2026-10-28.endive");
    expect(updated.livemode).toBe(false);
    expect(updated.request?.id).toMatch(/^req_/);
  });

  it("filters by enabled_events and lists endpoints without their secret", async () => {
    const h = await start();
    const rx = await receiver();
    cleanups.push(
      () => h.stop(),
      () => rx.close(),
    );
    await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["product.created"] });
    await h.stripe.customers.create({});
    await h.stripe.products.create({ name: "P" });
    await h.em.idle();
    expect(rx.received.map((r) => JSON.parse(r.body).type)).toEqual(["product.created"]);
    const list = await h.stripe.webhookEndpoints.list();
    expect(list.data[0]?.secret).toBeUndefined();
  });

  it("lists and retrieves events with type filters", async () => {
    const h = await setup();
    await h.stripe.customers.create({});
    await h.stripe.products.create({ name: "P" });
    const customers = await h.stripe.events.list({ type: "customer.*" });
    expect(customers.data.map((e) => e.type)).toEqual(["customer.created"]);
    const both = await h.stripe.events.list({ types: ["customer.created", "product.created"] });
    expect(both.data).toHaveLength(2);
    const first = both.data[0];
    if (!first) throw new Error("no event");
    expect((await h.stripe.events.retrieve(first.id)).id).toBe(first.id);
  });
});

describe("webhooks: errors and retries", () => {
  it("retries non-2xx answers with backoff until delivered, then pending_webhooks reaches 0", async () => {
    const h = await setup({ retrySchedule: [10, 20, 40] }, (_r, n) => (n <= 2 ? 500 : 200));
    const c = await h.stripe.customers.create({});
    await h.em.idle();
    expect(h.rx.received.length).toBe(3);
    const job = h.em.deliveries()[0];
    expect(job?.state).toBe("delivered");
    expect(job?.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    const ev = (await h.stripe.events.list({ type: "customer.created" })).data[0];
    expect(ev?.data.object).toMatchObject({ id: c.id });
    expect(ev?.pending_webhooks).toBe(0);
  });

  it("flushed() waits for the deliveries queued so far, not for those queued after", async () => {
    // The first event's first delivery fails (a 100 ms wait for its retry); the second event's
    // deliveries fail until the test lets them through.
    const firstAttempts = new Set<string>();
    let released = false;
    const h = await setup({ retrySchedule: [100, 100, 100, 100, 100, 100, 100, 100] }, (r) => {
      const body = JSON.parse(r.body) as { data: { object: { email: string } } };
      if (body.data.object.email === "second@example.com") return released ? 200 : 500;
      if (firstAttempts.has(r.body)) return 200;
      firstAttempts.add(r.body);
      return 500;
    });
    await h.stripe.customers.create({ email: "first@example.com" });
    const flushed = h.em.flushed();
    await h.stripe.customers.create({ email: "second@example.com" });
    await flushed;
    const [first, second] = h.em.deliveries();
    expect(first?.state).toBe("delivered");
    // Still failing, between attempts or in one.
    expect(["pending", "in_flight"]).toContain(second?.state);
    released = true;
    await h.em.idle();
    expect(h.em.deliveries().map((d) => d.state)).toEqual(["delivered", "delivered"]);
  });

  it("parks a delivery after the last retry", async () => {
    const h = await setup({ retrySchedule: [5, 5] }, () => 503);
    await h.stripe.customers.create({});
    await h.em.idle();
    expect(h.em.deliveries()[0]?.state).toBe("parked");
    expect(h.rx.received.length).toBe(3);
    const res = await fetch(`${h.em.url}/_emulator/deliveries`);
    const body: { idle: boolean; deliveries: unknown[] } = await jsonOf(res);
    expect(body.idle).toBe(true);
  });
});

describe("webhooks: security", () => {
  it("signatures do not verify with a wrong secret or a tampered body", async () => {
    const h = await setup();
    await h.stripe.customers.create({});
    await h.em.idle();
    const r = h.rx.received[0];
    if (!r) throw new Error("nothing delivered");
    await expect(h.stripe.webhooks.constructEventAsync(r.body, r.signature, "whsec_wrong")).rejects.toBeInstanceOf(Stripe.errors.StripeSignatureVerificationError);
    await expect(h.stripe.webhooks.constructEventAsync(r.body.replace("customer", "kustomer"), r.signature, h.secret)).rejects.toBeInstanceOf(Stripe.errors.StripeSignatureVerificationError);
  });
});

describe("webhooks: chaos", () => {
  it("duplicates, reorders and drops attempts reproducibly, and every event still arrives verified", async () => {
    const h = await setup({ chaos: { seed: 42, failureRate: 0.3, maxCopies: 3, shuffleWindowMs: 30 }, retrySchedule: [5, 10, 20, 40, 80, 160] });
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push((await h.stripe.customers.create({ email: `c${i}@example.com` })).id);
    const res = await fetch(`${h.em.url}/_emulator/deliveries/idle?timeout_ms=10000`);
    expect(res.status).toBe(200);
    const events = await Promise.all(h.rx.received.map((r) => h.stripe.webhooks.constructEventAsync(r.body, r.signature, h.secret)));
    const delivered = new Set(events.map((e) => e.id));
    expect(delivered.size).toBe(15);
    expect(events.length).toBeGreaterThan(15);
    const order = events.map((e) => (e.type === "customer.created" ? e.data.object.id : ""));
    expect(order).not.toEqual(ids);
    expect(h.em.deliveries().some((j) => j.attempts.some((a) => a.simulatedFailure))).toBe(true);
  });

  it("can be switched on over HTTP", async () => {
    const h = await setup();
    const res = await fetch(`${h.em.url}/_emulator/chaos`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seed: 7, failureRate: 0.5 }) });
    const body: { chaos: { seed: number; failureRate: number } } = await jsonOf(res);
    expect(body.chaos).toEqual({ seed: 7, failureRate: 0.5 });
  });
});
