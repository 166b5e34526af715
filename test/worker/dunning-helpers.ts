import type Stripe from "stripe";
import { inject } from "vitest";
import { eq, like } from "drizzle-orm";
import { expect } from "vitest";
import { dunningCases, emailOutbox, entitlements } from "../../worker/src/db/schema";
import { db, deliver, deliverAll, drained, eventsFor, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;

export const caseOf = (id: string) => db().select().from(dunningCases).where(eq(dunningCases.id, id)).get();
export const entitlementOf = (userId: string) => db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();

/** The templates of the emails a dunning case stored, sorted. */
export const emailsOf = async (caseId: string) =>
  (
    await db()
      .select({ template: emailOutbox.template })
      .from(emailOutbox)
      .where(like(emailOutbox.idempotencyKey, `${caseId}:%`))
      .all()
  )
    .map((e) => e.template)
    .sort();

/**
 * Moves the clock to a day before the subscription's first renewal, makes `card` the customer's
 * default, then past the renewal and the hour Stripe waits before charging it. Dated from the
 * period end Stripe set, not a month of 30 days: a month has 28 to 31.
 */
export async function declineRenewal(clock: Awaited<ReturnType<typeof testClock>>, customerId: string, sub: Stripe.Subscription, card = "pm_card_chargeCustomerFail") {
  const s = stripe();
  const end = sub.items.data[0]!.current_period_end * 1000;
  await clock.advanceTo(end - DAY);
  const declining = await s.paymentMethods.attach(card, { customer: customerId });
  await s.customers.update(customerId, { invoice_settings: { default_payment_method: declining.id } });
  await clock.advanceTo(end + 2 * 3_600_000);
  return declining;
}

/**
 * A subscriber on a test clock whose first renewal (a month on) is declined with `card`; returns its
 * open case and `at(days)`, which moves the clock to `days` after the case's anchor (the failure).
 */
export async function failedRenewal(card = "pm_card_chargeCustomerFail", opts: { startSeconds?: number; lookupKey?: "local_monthly" | "local_annual"; stripeRetries?: number[] } = {}) {
  const s = stripe();
  const clock = await testClock(opts.startSeconds);
  if (opts.stripeRetries) await smartRetries(clock.id, { schedule_days: opts.stripeRetries, after_last_retry: "past_due" });
  const { userId, customer, sub } = await subscriber({ testClock: clock.id, ...(opts.lookupKey ? { lookupKey: opts.lookupKey } : {}) });
  const ids = { customer: customer.id, sub: sub.id };
  const seen = await deliverAll(ids);
  const declining = await declineRenewal(clock, customer.id, sub, card);
  await deliverAll(ids, seen);
  const kase = await db().select().from(dunningCases).where(eq(dunningCases.customerId, customer.id)).get();
  expect(kase).toMatchObject({ status: "open", stage: null, subscriptionId: sub.id, userId, testClock: clock.id });
  const at = async (days: number) => {
    const frozen = (await s.testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000;
    await clock.advanceDays((kase!.anchorAt + days * DAY - frozen) / DAY);
  };
  return { s, clock, userId, customer, sub, ids, seen, kase: kase!, at, declining };
}

/** The emulator's control: the payment method declines until `after_attempts` more attempts, or until `at` (unix seconds). */
export async function recoverPaymentMethod(pm: string, rule: { after_attempts?: number; at?: number }) {
  const res = await fetch(`${inject("stripeApiBase")}/_emulator/payment_methods/${pm}/recover`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(rule) });
  if (!res.ok) throw new Error(`recover ${pm}: ${res.status} ${await res.text()}`);
}

/** Stripe's automatic retries for the customers of one test clock (the emulator's stand-in for the account setting). */
export async function smartRetries(clock: string, setting: { schedule_days: number[]; after_last_retry: "past_due" | "unpaid" | "cancel" } | null) {
  const res = await fetch(
    `${inject("stripeApiBase")}/_emulator/test_clocks/${clock}/smart_retries`,
    setting ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(setting) } : { method: "DELETE" },
  );
  if (!res.ok) throw new Error(`smart_retries ${clock}: ${res.status} ${await res.text()}`);
}

/**
 * Delivers the events not in `seen` about the customer, its subscription and its invoices as the
 * running system receives them: each signed and posted on its own, in Stripe's order, without
 * waiting for the one before to be processed (Stripe sends a clock advance's events as a burst),
 * so the queue consumer stores them together and processes them one after another. Returns
 * `seen` with them added.
 */
export async function deliverAsStripeDoes(ids: { customer: string; sub: string }, seen = new Set<string>()): Promise<Set<string>> {
  const invoiceIds = (await stripe().invoices.list({ customer: ids.customer, limit: 100 })).data.map((i) => i.id);
  for (const e of await eventsFor([ids.customer, ids.sub, ...invoiceIds], seen)) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const res = await deliver(e);
    if (res.status !== 200) throw new Error(`delivering ${e.id} (${e.type}): HTTP ${res.status} ${await res.text()}`);
  }
  await drained();
  return seen;
}
