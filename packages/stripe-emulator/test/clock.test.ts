import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { DAY, receiver, start, T0 } from "./helpers.ts";

// An emulator made with a clock (the `now` option) must read time only through it, so a test
// can set the emulator's "now" anywhere. Objects on a test clock still live at its frozen time.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A clock a test moves by hand; it stands still between moves. */
function handClock(startMs: number): { now: () => number; advance(ms: number): void } {
  let ms = startMs;
  return { now: () => ms, advance: (by) => void (ms += by) };
}

const CLOCK_START_MS = Date.UTC(2031, 0, 15, 12, 0, 0);

function signedAt(signature: string): number {
  const t = /(?:^|,)t=(\d+)/.exec(signature)?.[1];
  if (t === undefined) throw new Error(`no t= in ${signature}`);
  return Number(t);
}

describe("the emulator's clock", () => {
  it("signs webhooks with the sending time on the emulator's clock, not a test clock's frozen time", async () => {
    const clock = handClock(CLOCK_START_MS);
    const h = await start({ now: clock.now });
    const rx = await receiver();
    cleanups.push(
      () => h.stop(),
      () => rx.close(),
    );
    const ep = await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["customer.created"] });
    const testClock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
    await h.stripe.customers.create({ email: "on-clock@example.com", test_clock: testClock.id });
    await h.em.idle();

    const [delivery] = rx.received;
    if (!delivery) throw new Error("no webhook delivered");
    const sentAt = CLOCK_START_MS / 1000;
    expect(signedAt(delivery.signature)).toBe(sentAt);
    // A receiver whose clock (receivedAt, ms) reads the same instant accepts it; one 10 minutes
    // later (past stripe-node's 300 s tolerance) refuses it.
    const event = await h.stripe.webhooks.constructEventAsync(delivery.body, delivery.signature, ep.secret ?? "", 300, undefined, CLOCK_START_MS);
    expect(event.type).toBe("customer.created");
    // The event itself happened on the test clock.
    expect(event.created).toBe(T0);
    await expect(h.stripe.webhooks.constructEventAsync(delivery.body, delivery.signature, ep.secret ?? "", 300, undefined, CLOCK_START_MS + 600_000)).rejects.toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(h.em.deliveries()[0]?.attempts[0]?.at).toBe(new Date(CLOCK_START_MS).toISOString());
  });

  it("signs each retry with the clock's time when it is sent", async () => {
    const clock = handClock(CLOCK_START_MS);
    // The clock moves a minute on every delivery, as it would while the receiver fails.
    const h = await start({ now: clock.now, retrySchedule: [5, 5] });
    const rx = await receiver((_r, n) => {
      clock.advance(60_000);
      return n < 3 ? 500 : 200;
    });
    cleanups.push(
      () => h.stop(),
      () => rx.close(),
    );
    await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["customer.created"] });
    await h.stripe.customers.create({});
    await h.em.idle();
    expect(rx.received.map((r) => signedAt(r.signature) - CLOCK_START_MS / 1000)).toEqual([0, 60, 120]);
  });

  it("still retries failed deliveries on schedule when the injected clock stands still", async () => {
    const clock = handClock(CLOCK_START_MS);
    const h = await start({ now: clock.now, retrySchedule: [5, 10] });
    const rx = await receiver((_r, n) => (n < 3 ? 503 : 200));
    cleanups.push(
      () => h.stop(),
      () => rx.close(),
    );
    await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["customer.created"] });
    await h.stripe.customers.create({});
    await h.em.idle();
    expect(h.em.deliveries()[0]?.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    expect(h.em.deliveries()[0]?.state).toBe("delivered");
  });

  it("forgets an idempotency key 24 hours after its first use on the emulator's clock", async () => {
    const clock = handClock(CLOCK_START_MS);
    const h = await start({ now: clock.now });
    cleanups.push(() => h.stop());
    const key = "idem-clock-test";
    const first = await h.stripe.customers.create({ email: "first@example.com" }, { idempotencyKey: key });
    expect(first.created).toBe(CLOCK_START_MS / 1000);

    // Just under a day later the key still replays the first answer and refuses other parameters.
    clock.advance(DAY * 1000 - 1000);
    const replay = await h.stripe.customers.create({ email: "first@example.com" }, { idempotencyKey: key });
    expect(replay.id).toBe(first.id);
    await expect(h.stripe.customers.create({ email: "second@example.com" }, { idempotencyKey: key })).rejects.toThrow(Stripe.errors.StripeIdempotencyError);

    // Past 24 hours Stripe may have pruned the key: the same key now makes a new object.
    clock.advance(2000);
    const later = await h.stripe.customers.create({ email: "second@example.com" }, { idempotencyKey: key });
    expect(later.id).not.toBe(first.id);
    expect(later.email).toBe("second@example.com");
    expect(later.created).toBe(CLOCK_START_MS / 1000 + DAY + 1);
  });
});
