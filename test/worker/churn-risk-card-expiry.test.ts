/**
 * Churn risk's card_expiring signal through the real path: cards made with an expiry in the
 * emulator through the official client, the subscription and its events delivered as signed
 * webhooks, the mirror synced by the worker, and the report read from GET /v1/analytics/churn-risk.
 *
 * The report compares the card's expiry with the subscription's next renewal, both Stripe's, so
 * the cards are dated relative to the month the test runs in: a card ending this month always
 * ends before a monthly renewal a month from now, one ending next month always outlives it.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { customers, subscriptions } from "../../worker/src/db/schema";
import { call, makeKey } from "./helpers";
import { makeKeys, ok, post } from "./lifecycle-helpers";
import { completeCheckout, db, deliver, deliverAll, eventsFor, settled, stripe, subscriber, testClock } from "./stripe-helpers";

interface Risk {
  customers: { subscription_id: string; score: number; reasons: { code: string; weight: number; detail: string }[] }[];
}

let analyst: string;
beforeAll(async () => {
  await makeKeys();
  analyst = (await makeKey("analyst")).key;
});

/** The calendar month `offset` months from the one the test runs in (UTC). */
function monthFromNow(offset: number): { exp_month: number; exp_year: number; label: string } {
  const d = new Date();
  const m = d.getUTCFullYear() * 12 + d.getUTCMonth() + offset;
  const exp_year = Math.floor(m / 12);
  const exp_month = (m % 12) + 1;
  return { exp_month, exp_year, label: `${exp_year}-${String(exp_month).padStart(2, "0")}` };
}

async function card(offset: number) {
  const { exp_month, exp_year } = monthFromNow(offset);
  return stripe().paymentMethods.create({ type: "card", card: { number: "4242424242424242", exp_month, exp_year, cvc: "123" } });
}

async function reasonsOf(subId: string) {
  const risk = await ok<Risk>(await call("GET", "/v1/analytics/churn-risk?limit=500", { key: analyst }));
  return risk.customers.find((c) => c.subscription_id === subId)?.reasons ?? [];
}
const codes = async (subId: string) => (await reasonsOf(subId)).map((r) => r.code);

/** Delivers, as signed webhooks and one at a time, the payment method's events of `type` not yet seen. */
async function deliverPaymentMethodEvents(pmId: string, type: string, seen: Set<string>) {
  const events = (await eventsFor([pmId])).filter((e) => e.type === type && !seen.has(e.id));
  expect(events.length, `${type} of ${pmId}`).toBeGreaterThan(0);
  for (const e of events) {
    seen.add(e.id);
    expect((await deliver(e)).status).toBe(200);
    expect(await settled(e.id)).toBe("processed");
  }
}

describe("churn risk: a card expiring before the next renewal", () => {
  it("lists a subscriber whose card ends before the renewal with card_expiring, and drops it once Stripe reports the card's new expiry", async () => {
    const pm = await card(0);
    const { customer, sub } = await subscriber({ card: pm.id });
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    const mirrored = await db().select().from(customers).where(eq(customers.id, customer.id)).get();
    const { exp_month, exp_year, label } = monthFromNow(0);
    expect(mirrored).toMatchObject({ defaultPaymentMethodId: pm.id, cardExpiresAt: Date.UTC(exp_year, exp_month) });

    const renewal = new Date(sub.items.data[0]!.current_period_end * 1000).toISOString().slice(0, 10);
    const reasons = await reasonsOf(sub.id);
    expect(reasons).toContainEqual({ code: "card_expiring", weight: 20, detail: `The card on file expires ${label} (end of month), before the renewal on ${renewal}.` });

    // The bank issued a new expiry for the same card (paymentMethods.update → payment_method.updated).
    await stripe().paymentMethods.update(pm.id, { card: { exp_year: exp_year + 3 } });
    await deliverPaymentMethodEvents(pm.id, "payment_method.updated", seen);
    expect((await db().select().from(customers).where(eq(customers.id, customer.id)).get())?.cardExpiresAt).toBe(Date.UTC(exp_year + 3, exp_month));
    expect(await codes(sub.id)).not.toContain("card_expiring");
  });

  it("drops card_expiring when the card network reissues the card and Stripe updates it by itself (payment_method.automatically_updated)", async () => {
    const pm = await card(0);
    const { customer, sub } = await subscriber({ card: pm.id });
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    expect(await codes(sub.id)).toContain("card_expiring");
    const { exp_month, exp_year } = monthFromNow(0);
    const res = await fetch(`${inject("stripeApiBase")}/_emulator/payment_methods/${pm.id}/automatic_update`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ exp_year: exp_year + 4, last4: "1881" }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await deliverPaymentMethodEvents(pm.id, "payment_method.automatically_updated", seen);
    expect((await db().select().from(customers).where(eq(customers.id, customer.id)).get())?.cardExpiresAt).toBe(Date.UTC(exp_year + 4, exp_month));
    expect(await codes(sub.id)).not.toContain("card_expiring");
  });

  it("drops card_expiring when the customer switches to a new card that outlives the renewal", async () => {
    const old = await card(0);
    const { customer, sub } = await subscriber({ card: old.id });
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    expect(await codes(sub.id)).toContain("card_expiring");

    const fresh = await stripe().paymentMethods.attach((await card(24)).id, { customer: customer.id });
    await stripe().customers.update(customer.id, { invoice_settings: { default_payment_method: fresh.id } });
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    expect((await db().select().from(customers).where(eq(customers.id, customer.id)).get())?.defaultPaymentMethodId).toBe(fresh.id);
    expect(await codes(sub.id)).not.toContain("card_expiring");
  });

  it("flags a trial whose own card (from Checkout) ends before the trial does, and drops it when that card's expiry is updated", async () => {
    // The trial starts ten days into next month, so a card ending this month ends before the trial.
    const next = monthFromNow(1);
    const clock = await testClock(Math.floor(Date.UTC(next.exp_year, next.exp_month - 1, 11, 12) / 1000));
    const pm = await card(0);
    const userId = `user_cardexp_${Date.now().toString(36)}`;
    const res = await post("/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: clock.id });
    expect(res.status, await res.clone().text()).toBe(201);
    const done = await completeCheckout((await res.json<{ session_id: string }>()).session_id, pm.id);
    const ids = { customer: done.customer as string, sub: done.subscription as string };
    const seen = await deliverAll(ids);
    const row = await db().select().from(subscriptions).where(eq(subscriptions.id, ids.sub)).get();
    expect(row).toMatchObject({ status: "trialing", defaultPaymentMethodId: pm.id });

    const trialEnd = new Date(row!.trialEnd!).toISOString().slice(0, 10);
    expect(await reasonsOf(ids.sub)).toContainEqual({
      code: "card_expiring",
      weight: 20,
      detail: `The card on file expires ${monthFromNow(0).label} (end of month), before the trial ends and the first charge on ${trialEnd}.`,
    });

    // Only the subscription names this card: the event must re-sync the subscription, not just the customer.
    await stripe().paymentMethods.update(pm.id, { card: { exp_month: next.exp_month, exp_year: next.exp_year } });
    await deliverPaymentMethodEvents(pm.id, "payment_method.updated", seen);
    expect(await codes(ids.sub)).not.toContain("card_expiring");
  });

  it("does not flag a card that outlives the renewal, nor one on a subscription canceling at the period end", async () => {
    const lasting = await subscriber({ card: (await card(1)).id });
    await deliverAll({ customer: lasting.customer.id, sub: lasting.sub.id });
    expect((await db().select().from(customers).where(eq(customers.id, lasting.customer.id)).get())?.cardExpiresAt).not.toBeNull();
    expect(await codes(lasting.sub.id)).not.toContain("card_expiring");

    const leaving = await subscriber({ card: (await card(0)).id });
    const seen = await deliverAll({ customer: leaving.customer.id, sub: leaving.sub.id });
    expect(await codes(leaving.sub.id)).toContain("card_expiring");
    await stripe().subscriptions.update(leaving.sub.id, { cancel_at_period_end: true });
    await deliverAll({ customer: leaving.customer.id, sub: leaving.sub.id }, seen);
    const reasons = await codes(leaving.sub.id);
    expect(reasons).toContain("pending_cancellation");
    expect(reasons).not.toContain("card_expiring");
  });
});
