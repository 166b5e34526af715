/**
 * An invoice paid (or voided) at Stripe while its webhook is still on its way, or was lost: the
 * tick must not suspend, cancel or keep dunning a customer who has paid. Webhooks are delivered
 * only by deliverAll here, so "paid in Stripe, not yet in the mirror" is exactly the state between
 * a payment and its event.
 */
import { describe, expect, it } from "vitest";
import { withOverrides } from "../../worker/src/dunning/policy";
import { dunningTick } from "../../worker/src/dunning/tick";
import { svc } from "./helpers";
import { caseOf, emailsOf, entitlementOf, failedRenewal } from "./dunning-helpers";

describe("dunning when the invoice was paid before its webhook arrived", () => {
  it("does not suspend on day 21 a customer who paid on day 20: the case closes as recovered and access stays on", async () => {
    const { s, kase, at, customer, userId } = await failedRenewal();
    const stripeOnly = withOverrides(svc().dunning, { retriesBy: "stripe" });
    await at(20.5);
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.invoices.pay(kase.invoiceId, { payment_method: working.id });
    await at(21.2);
    await dunningTick(svc(), stripeOnly);
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered" });
    expect((await entitlementOf(userId))?.status).toBe("active");
    expect(await emailsOf(kase.id)).not.toContain("suspended");
  }, 60_000);

  it("does not cancel the subscription of a customer who paid after the suspension", async () => {
    const { s, kase, at, customer, userId } = await failedRenewal();
    const policy = withOverrides(svc().dunning, { retriesBy: "stripe", cancelAfterSuspensionDays: 3 });
    await at(21.2);
    await dunningTick(svc(), policy);
    expect(await caseOf(kase.id)).toMatchObject({ status: "suspended" });
    await at(23.5);
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.invoices.pay(kase.invoiceId, { payment_method: working.id });
    await at(24.1);
    await dunningTick(svc(), policy);
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("active");
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered" });
    expect((await entitlementOf(userId))?.status).toBe("active");
  }, 60_000);

  it("sends no day-7 notice to a customer who paid on day 6 through the hosted page: the case closes as recovered with the recovery email", async () => {
    const { s, kase, at, customer } = await failedRenewal();
    const stripeOnly = withOverrides(svc().dunning, { retriesBy: "stripe" });
    await at(3.2);
    await dunningTick(svc(), stripeOnly);
    expect(await emailsOf(kase.id)).toEqual(["dunning_soft"]);
    await at(6.5);
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.invoices.pay(kase.invoiceId, { payment_method: working.id });
    await at(7.2);
    const ticked = await dunningTick(svc(), stripeOnly);
    expect(ticked.done.filter((k) => k.startsWith(kase.id))).toEqual([]);
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered" });
    expect(await emailsOf(kase.id)).toEqual(["dunning_soft", "payment_recovered"]);
  }, 60_000);

  it("a retry that finds the invoice already paid closes the case: no later notice", async () => {
    const { s, kase, at, customer } = await failedRenewal();
    // Paid before the day-1 retry (the helper leaves the clock a day after the failure).
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.invoices.pay(kase.invoiceId, { payment_method: working.id });
    await at(1.1);
    await dunningTick(svc());
    await at(3.5);
    await dunningTick(svc());
    expect(await caseOf(kase.id)).toMatchObject({ status: "recovered" });
    expect(await emailsOf(kase.id)).not.toContain("dunning_soft");
  }, 60_000);
});
