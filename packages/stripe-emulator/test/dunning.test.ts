import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, DAY, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start();
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

/** Every event of the given types, oldest first. */
async function events(stripe: Stripe, types: string[]): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100, types })) out.push(e);
  return out.reverse();
}

function idOf(ref: string | { id: string } | null | undefined): string {
  if (ref === null || ref === undefined) return "";
  return typeof ref === "string" ? ref : ref.id;
}

/** A subscription whose renewal (after a one-day trial) fails with the customer's card. */
async function failedRenewal(stripe: Stripe, card: string): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription; invoice: Stripe.Invoice }> {
  const { clock, customer } = await clockCustomer(stripe, card);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], trial_period_days: 1 });
  await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + DAY + 2 * 3600 });
  const s = await stripe.subscriptions.retrieve(sub.id);
  const invoice = await stripe.invoices.retrieve(idOf(s.latest_invoice));
  return { clock, customer, sub: s, invoice };
}

describe("payment attempts: one charge per attempt", () => {
  it("an invoice declined twice with different cards and then paid has three charges, each failure with its own decline code, attempt_count 3", async () => {
    const { customer, sub, invoice } = await failedRenewal(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    expect([sub.status, invoice.status, invoice.attempt_count]).toEqual(["past_due", "open", 1]);
    const lost = await h.stripe.paymentMethods.attach("pm_card_chargeDeclinedLostCard", { customer: customer.id });
    const err = await h.stripe.invoices.pay(invoice.id, { payment_method: lost.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    if (err instanceof Stripe.errors.StripeCardError) expect(err.decline_code).toBe("lost_card");
    const visa = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const paid = await h.stripe.invoices.pay(invoice.id, { payment_method: visa.id });
    expect([paid.status, paid.attempt_count, paid.amount_paid]).toEqual(["paid", 3, 2900]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");

    // As on Stripe, the invoice keeps one PaymentIntent; each attempt is a new Charge on it.
    expect(paid.payments?.data).toHaveLength(1);
    const piId = idOf(paid.payments?.data[0]?.payment.payment_intent);
    const charges = (await h.stripe.charges.list({ payment_intent: piId })).data.reverse();
    expect(charges.map((c) => [c.status, c.failure_code, c.outcome?.reason ?? null, c.payment_method])).toEqual([
      ["failed", "card_declined", "insufficient_funds", idOf(customer.invoice_settings.default_payment_method)],
      ["failed", "card_declined", "lost_card", lost.id],
      ["succeeded", null, null, visa.id],
    ]);
    const pi = await h.stripe.paymentIntents.retrieve(piId);
    expect([pi.status, pi.latest_charge, pi.last_payment_error]).toEqual(["succeeded", charges[2]?.id, null]);

    // Each invoice.payment_failed follows the payment_intent.payment_failed of the same attempt,
    // whose last_payment_error names that attempt's charge and decline code.
    const evs = (await events(h.stripe, ["payment_intent.payment_failed", "invoice.payment_failed", "charge.failed"])).filter((e) => {
      const o = e.data.object;
      return ("payment_intent" in o && o.payment_intent === piId) || o.id === piId || o.id === invoice.id;
    });
    expect(evs.map((e) => e.type)).toEqual(["charge.failed", "payment_intent.payment_failed", "invoice.payment_failed", "charge.failed", "payment_intent.payment_failed", "invoice.payment_failed"]);
    const failures = evs.filter((e) => e.type === "payment_intent.payment_failed").map((e) => {
      const o = e.data.object;
      return "last_payment_error" in o ? [o.last_payment_error?.charge, o.last_payment_error?.decline_code] : [];
    });
    expect(failures).toEqual([
      [charges[0]?.id, "insufficient_funds"],
      [charges[1]?.id, "lost_card"],
    ]);
    const attempts = evs.filter((e) => e.type === "invoice.payment_failed").map((e) => ("attempt_count" in e.data.object ? e.data.object.attempt_count : 0));
    expect(attempts).toEqual([1, 2]);
  });
});
