import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { dunningCases, dunningSteps, entitlements } from "../../worker/src/db/schema";
import { nextPayday, withOverrides } from "../../worker/src/dunning/policy";
import { dunningTick } from "../../worker/src/dunning/tick";
import { suspendLapsed } from "../../worker/src/entitlements/suspend";
import { call, makeKey, svc } from "./helpers";
import { caseOf, emailsOf, entitlementOf, failedRenewal, recoverPaymentMethod } from "./dunning-helpers";
import { db, deliverAll, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;
const stepsOf = async (id: string) =>
  await db().select({ step: dunningSteps.step, outcome: dunningSteps.outcome, at: dunningSteps.at }).from(dunningSteps).where(eq(dunningSteps.caseId, id)).orderBy(asc(dunningSteps.step)).all();

describe("dunning retries", () => {
  it("retries on day 1 and day 3; a card that recovers after one more decline is paid by the day-3 retry, access stays on and one recovery email goes out, with no day-3 notice", async () => {
    const { s, kase, at, ids, seen, declining, userId } = await failedRenewal();
    expect(kase).toMatchObject({ retries: 0, nextRetryAt: kase.anchorAt + 1 * DAY, nextActionAt: kase.anchorAt + 1 * DAY });
    // Counted over the card's attempts ever: the renewal and the first retry decline, the second retry succeeds.
    await recoverPaymentMethod(declining.id, { after_attempts: 2 });
    await at(1.1);
    expect((await dunningTick(svc())).retried.filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:retry_1:declined`]);
    expect(await caseOf(kase.id)).toMatchObject({ status: "open", retries: 1, nextRetryAt: kase.anchorAt + 3 * DAY, nextActionAt: kase.anchorAt + 3 * DAY, lastDeclineCode: "generic_decline" });
    await deliverAll(ids, seen);
    expect((await entitlementOf(userId))?.status).toBe("past_due");
    await at(3.1);
    expect((await dunningTick(svc())).retried.filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:retry_2:paid`]);
    expect((await s.invoices.retrieve(kase.invoiceId)).status).toBe("paid");
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered", nextActionAt: null, nextRetryAt: null });
    await deliverAll(ids, seen);
    await dunningTick(svc());
    expect(await emailsOf(kase.id)).toEqual(["payment_recovered"]);
    expect((await entitlementOf(userId))?.status).toBe("active");
    expect((await stepsOf(kase.id)).map((st) => `${st.step}:${st.outcome}`)).toEqual(["retry_1:declined", "retry_2:paid"]);
  }, 60_000);

  it("retries an insufficient-funds decline on the next federal payday inside the retry interval, where the card recovers", async () => {
    const policy = svc().dunning;
    const payday = policy.retries.payday!;
    // A renewal failing on a Wednesday two days before a payday (and on a day of the month every month has).
    let P = nextPayday(Date.now() + 40 * DAY, payday);
    while (new Date(P - 2 * DAY).getUTCDate() > 28) P = nextPayday(P, payday);
    const renewal = new Date(P - 2 * DAY - 14 * 3_600_000);
    const start = new Date(renewal);
    start.setUTCMonth(start.getUTCMonth() - 1);
    const clock = await testClock(Math.floor(start.getTime() / 1000));
    const { s, kase, at, declining } = await (async () => {
      // failedRenewal's own clock would start now; this one starts a month before the renewal.
      const { stripe } = await import("./stripe-helpers");
      const st = stripe();
      const { userId, customer, sub } = await subscriber({ testClock: clock.id });
      const ids = { customer: customer.id, sub: sub.id };
      const seen = await deliverAll(ids);
      await clock.advanceTo(renewal.getTime() - DAY);
      const pm = await st.paymentMethods.attach("pm_card_chargeDeclinedInsufficientFunds", { customer: customer.id });
      await st.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
      await clock.advanceTo(renewal.getTime() + 2 * 3_600_000);
      await deliverAll(ids, seen);
      const k = (await db().select().from(dunningCases).where(eq(dunningCases.customerId, customer.id)).get())!;
      expect(k).toMatchObject({ status: "open", userId, declineCode: "insufficient_funds" });
      return { s: st, kase: k, declining: pm, at: (days: number) => clock.advanceTo(k.anchorAt + days * DAY) };
    })();
    // The deposit posts on payday morning: the card works from then on.
    await recoverPaymentMethod(declining.id, { at: Math.floor((P - payday.hourUtc * 3_600_000) / 1000) });
    // The first retry's interval (day 0 to day 1) holds no payday: day 1, and it declines.
    expect(kase.nextRetryAt).toBe(kase.anchorAt + DAY);
    await at(1.01);
    await dunningTick(svc());
    // The second's (day 1 to day 3) holds Friday's payday: moved a day earlier, to it.
    expect(await caseOf(kase.id)).toMatchObject({ retries: 1, nextRetryAt: P, lastDeclineCode: "insufficient_funds" });
    expect(P).toBeLessThan(kase.anchorAt + 3 * DAY);
    await clock.advanceTo(P + 60_000);
    expect((await dunningTick(svc())).retried.filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:retry_2:paid`]);
    expect((await s.invoices.retrieve(kase.invoiceId)).status).toBe("paid");
    expect((await stepsOf(kase.id)).find((st) => st.step === "retry_2")?.at).toBe(P + 60_000);
    // Without the alignment the same retry would have waited for day 3.
    const unaligned = withOverrides(policy, { paydayAnchor: "off" });
    expect(unaligned.retries.payday).toBeNull();
  }, 60_000);

  it("makes no retry after a hard decline", async () => {
    const { s, kase, at } = await failedRenewal("pm_card_chargeDeclinedStolenCard");
    expect(kase).toMatchObject({ declineCode: "stolen_card", nextRetryAt: null, nextActionAt: kase.anchorAt + 3 * DAY });
    const attempts = (await s.invoices.retrieve(kase.invoiceId)).attempt_count;
    await at(7.5);
    const r = await dunningTick(svc());
    expect(r.retried.filter((k) => k.startsWith(kase.id))).toEqual([]);
    expect((await s.invoices.retrieve(kase.invoiceId)).attempt_count).toBe(attempts);
    expect(await emailsOf(kase.id)).toEqual(["dunning_urgent", "hard_decline"]);
  }, 60_000);

  it("leaves retries to Stripe when the policy says so: the tick emails but never pays", async () => {
    const { s, kase, at } = await failedRenewal();
    const stripeRetries = withOverrides(svc().dunning, { retriesBy: "stripe" });
    const attempts = (await s.invoices.retrieve(kase.invoiceId)).attempt_count;
    await at(3.5);
    const r = await dunningTick(svc(), stripeRetries);
    expect(r.retried.filter((k) => k.startsWith(kase.id))).toEqual([]);
    expect((await s.invoices.retrieve(kase.invoiceId)).attempt_count).toBe(attempts);
    expect(await emailsOf(kase.id)).toEqual(["dunning_soft"]);
    expect(await caseOf(kase.id)).toMatchObject({ nextRetryAt: null, nextActionAt: kase.anchorAt + 7 * DAY });
  }, 60_000);

  it("warns in /health while Stripe retries invoices the worker retries too, and reads Stripe's next attempt when retries are Stripe's", async () => {
    const { kase, ids, seen, at } = await failedRenewal("pm_card_chargeCustomerFail", { stripeRetries: [5, 10] });
    expect(kase.stripeNextAttemptAt).toBe(kase.anchorAt + 5 * DAY);
    const health = await (await call("GET", "/health")).json<{ warnings: { code: string; cases: number }[] }>();
    expect(health.warnings.map((w) => w.code)).toContain("stripe_retries_overlap");
    // Stripe's own retry on day 5 fails too: the case learns its next attempt.
    await at(5.1);
    await deliverAll(ids, seen);
    expect(await caseOf(kase.id)).toMatchObject({ status: "open", stripeNextAttemptAt: kase.anchorAt + 10 * DAY });
    const report = await (await call("GET", "/v1/dunning?limit=100", { key: (await makeKey("admin")).key })).json<{ open: { id: string; stripe_next_attempt_at: string | null }[] }>();
    expect(report.open.find((o) => o.id === kase.id)?.stripe_next_attempt_at).toBe(new Date(kase.anchorAt + 10 * DAY).toISOString());
    // Paid: nothing is left for either to retry, and the warning goes.
    const { stripe } = await import("./stripe-helpers");
    const working = await stripe().paymentMethods.attach("pm_card_visa", { customer: ids.customer });
    await stripe().invoices.pay(kase.invoiceId, { payment_method: working.id });
    await deliverAll(ids, seen);
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered" });
    const after = await (await call("GET", "/health")).json<{ warnings: { code: string }[] }>();
    expect(after.warnings.map((w) => w.code)).not.toContain("stripe_retries_overlap");
  }, 60_000);

  it("cancels the Stripe subscription the policy's number of days after the suspension, once", async () => {
    const { s, kase, at, ids, seen, userId } = await failedRenewal();
    const policy = withOverrides(svc().dunning, { retriesBy: "stripe", cancelAfterSuspensionDays: 3 });
    await at(21.2);
    await dunningTick(svc(), policy);
    expect(await caseOf(kase.id)).toMatchObject({ status: "suspended", nextActionAt: kase.anchorAt + 24 * DAY });
    await at(23.9);
    await dunningTick(svc(), policy);
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("past_due");
    await at(24.1);
    const [a, b] = await Promise.all([dunningTick(svc(), policy), dunningTick(svc(), policy)]);
    expect([...a.done, ...b.done].filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:subscription_canceled`]);
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("canceled");
    await deliverAll(ids, seen);
    expect(await caseOf(kase.id)).toMatchObject({ status: "canceled", nextActionAt: null });
    expect((await entitlementOf(userId))?.status).not.toBe("active");
  }, 60_000);

  it("does not suspend a prepaid annual subscriber whose separate one-off invoice fails", async () => {
    const clock = await testClock();
    const { userId, customer, sub } = await subscriber({ testClock: clock.id, lookupKey: "local_annual" });
    const { stripe } = await import("./stripe-helpers");
    const s = stripe();
    const ids = { customer: customer.id, sub: sub.id };
    const seen = await deliverAll(ids);
    expect((await entitlementOf(userId))?.status).toBe("active");
    const pm = await s.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
    // A one-off charge (e.g. a résumé review) on its own invoice, not the subscription's.
    await s.invoiceItems.create({ customer: customer.id, amount: 4500, currency: "usd", description: "Résumé review" });
    const inv = await s.invoices.create({ customer: customer.id, auto_advance: true, collection_method: "charge_automatically", pending_invoice_items_behavior: "include" });
    await s.invoices.finalizeInvoice(inv.id);
    await s.invoices.pay(inv.id).catch(() => undefined);
    expect((await s.invoices.retrieve(inv.id)).status).toBe("open");
    await deliverAll(ids, seen);
    await clock.advanceDays(25);
    await deliverAll(ids, seen);
    const frozen = (await s.testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000;
    await dunningTick(svc());
    await suspendLapsed(svc(frozen));
    expect(await db().select().from(dunningCases).where(eq(dunningCases.invoiceId, inv.id)).get()).toBeUndefined();
    expect((await s.subscriptions.retrieve(sub.id)).status).toBe("active");
    expect(await entitlementOf(userId)).toMatchObject({ status: "active", suspendedAt: null });
  }, 60_000);
});
