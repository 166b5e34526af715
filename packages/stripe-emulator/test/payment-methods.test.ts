import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, start, type Harness } from "./helpers.ts";

// Mid-June 2026: June is the current month, so a card expiring 2026-06 is still valid.
const NOW = Date.UTC(2026, 5, 15, 12);

let h: Harness;
beforeAll(async () => {
  h = await start({ now: () => NOW });
});
afterAll(async () => {
  await h.stop();
});

const card = (exp_month: number, exp_year: number) => ({ type: "card" as const, card: { number: "4242424242424242", exp_month, exp_year, cvc: "123" } });

async function refusal(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof Stripe.errors.StripeError)) throw new Error(`expected a Stripe error, got ${String(err)}`);
  return err;
}

describe("payment methods: card expiry", () => {
  it("keeps the expiry month and year a card is created with", async () => {
    const pm = await h.stripe.paymentMethods.create(card(6, 2026));
    expect(pm.card).toMatchObject({ exp_month: 6, exp_year: 2026, last4: "4242" });
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).card).toMatchObject({ exp_month: 6, exp_year: 2026 });
  });

  it("refuses a card that has already expired, or a month or year that cannot be one, with Stripe's card errors", async () => {
    const lastYear = await refusal(h.stripe.paymentMethods.create(card(12, 2025)));
    expect(lastYear).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(lastYear).toMatchObject({ code: "invalid_expiry_year", param: "card[exp_year]", statusCode: 402 });
    const lastMonth = await refusal(h.stripe.paymentMethods.create(card(5, 2026)));
    expect(lastMonth).toMatchObject({ type: "StripeCardError", code: "invalid_expiry_month", param: "card[exp_month]" });
    expect(await refusal(h.stripe.paymentMethods.create(card(13, 2027)))).toMatchObject({ code: "invalid_expiry_month" });
    expect(await refusal(h.stripe.paymentMethods.create(card(0, 2027)))).toMatchObject({ code: "invalid_expiry_month" });
    expect(await refusal(h.stripe.paymentMethods.create(card(6, 27)))).toMatchObject({ code: "invalid_expiry_year" });
    const half = await refusal(h.stripe.paymentMethods.create({ type: "card", card: { number: "4242424242424242", exp_month: 6 } as Stripe.PaymentMethodCreateParams.Card }));
    expect(half).toMatchObject({ type: "StripeInvalidRequestError", code: "parameter_missing", param: "card[exp_year]" });
  });

  it("updates a card's expiry, emitting payment_method.updated with only the changed card fields as previous attributes", async () => {
    const customer = await h.stripe.customers.create({ email: "renew@example.com" });
    const pm = await h.stripe.paymentMethods.attach((await h.stripe.paymentMethods.create(card(8, 2026))).id, { customer: customer.id });
    const updated = await h.stripe.paymentMethods.update(pm.id, { card: { exp_year: 2029 } });
    expect(updated.card).toMatchObject({ exp_month: 8, exp_year: 2029 });
    const events = await h.stripe.events.list({ type: "payment_method.updated", limit: 1 });
    const e = events.data[0]!;
    expect((e.data.object as Stripe.PaymentMethod).id).toBe(pm.id);
    expect((e.data.object as Stripe.PaymentMethod).card).toMatchObject({ exp_month: 8, exp_year: 2029 });
    expect(e.data.previous_attributes).toEqual({ card: { exp_year: 2026 } });
    const both = await h.stripe.paymentMethods.update(pm.id, { card: { exp_month: 1, exp_year: 2030 } });
    expect(both.card).toMatchObject({ exp_month: 1, exp_year: 2030 });
  });

  it("refuses to update a card to an expiry already past and leaves it as it was, with no event", async () => {
    const pm = await h.stripe.paymentMethods.create(card(9, 2027));
    const before = (await h.stripe.events.list({ limit: 1 })).data[0]?.id;
    expect(await refusal(h.stripe.paymentMethods.update(pm.id, { card: { exp_year: 2025 } }))).toMatchObject({ type: "StripeCardError", code: "invalid_expiry_year", param: "card[exp_year]" });
    expect(await refusal(h.stripe.paymentMethods.update(pm.id, { card: { exp_month: 13 } }))).toMatchObject({ code: "invalid_expiry_month", param: "card[exp_month]" });
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).card).toMatchObject({ exp_month: 9, exp_year: 2027 });
    expect((await h.stripe.events.list({ limit: 1 })).data[0]?.id).toBe(before);
  });

  it("expands the customer's and the subscription's default payment method on retrieve and on lists", async () => {
    const prices = await catalog(h.stripe);
    const customer = await h.stripe.customers.create({ email: "expand@example.com", payment_method: (await h.stripe.paymentMethods.create(card(7, 2026))).id });
    const pmId = (await h.stripe.paymentMethods.list({ customer: customer.id })).data[0]!.id;
    await h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pmId } });
    const own = await h.stripe.paymentMethods.attach((await h.stripe.paymentMethods.create(card(3, 2028))).id, { customer: customer.id });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], default_payment_method: own.id });

    const c = await h.stripe.customers.retrieve(customer.id, { expand: ["invoice_settings.default_payment_method"] });
    if (c.deleted) throw new Error("customer deleted");
    const cpm = c.invoice_settings.default_payment_method;
    expect(typeof cpm === "object" && cpm?.card).toMatchObject({ exp_month: 7, exp_year: 2026 });
    const s = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["default_payment_method"] });
    expect(typeof s.default_payment_method === "object" && s.default_payment_method?.card).toMatchObject({ exp_month: 3, exp_year: 2028 });

    const customers = await h.stripe.customers.list({ limit: 100, expand: ["data.invoice_settings.default_payment_method"] });
    const listed = customers.data.find((x) => x.id === customer.id)!.invoice_settings.default_payment_method;
    expect(typeof listed === "object" && listed?.id).toBe(pmId);
    // Customers without a default keep null rather than failing the expansion.
    expect(customers.data.some((x) => x.invoice_settings.default_payment_method === null)).toBe(true);
    const subs = await h.stripe.subscriptions.list({ customer: customer.id, expand: ["data.default_payment_method"] });
    const listedSub = subs.data[0]!.default_payment_method;
    expect(typeof listedSub === "object" && listedSub?.card?.exp_year).toBe(2028);
  });

  it("returns a deleted customer as Stripe does when its default payment method is asked to be expanded", async () => {
    const customer = await h.stripe.customers.create({ email: "gone@example.com" });
    await h.stripe.customers.del(customer.id);
    const got = await h.stripe.customers.retrieve(customer.id, { expand: ["invoice_settings.default_payment_method"] });
    expect(got).toMatchObject({ id: customer.id, deleted: true });
  });
});

describe("payment methods: automatic card updates (the card network's account updater)", () => {
  const update = (pmId: string, body: Record<string, unknown>) =>
    fetch(`${h.em.url}/_emulator/payment_methods/${pmId}/automatic_update`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("gives a saved card its reissued expiry and number and sends payment_method.automatically_updated naming what changed", async () => {
    const customer = await h.stripe.customers.create({ email: "updater@example.com" });
    const pm = await h.stripe.paymentMethods.attach((await h.stripe.paymentMethods.create(card(7, 2026))).id, { customer: customer.id });
    const res = await update(pm.id, { exp_year: 2030, last4: "1881" });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as Stripe.PaymentMethod).card).toMatchObject({ exp_month: 7, exp_year: 2030, last4: "1881" });
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).card).toMatchObject({ exp_month: 7, exp_year: 2030, last4: "1881" });
    const events = await h.stripe.events.list({ type: "payment_method.automatically_updated", limit: 10 });
    const event = events.data.find((e) => (e.data.object as Stripe.PaymentMethod).id === pm.id);
    expect(event?.data.object).toMatchObject({ id: pm.id, customer: customer.id, card: { exp_year: 2030, last4: "1881" } });
    expect(event?.data.previous_attributes).toEqual({ card: { exp_year: 2026, last4: "4242" } });
  });

  it("refuses a past expiry with Stripe's card error, an unknown key, no change, a malformed last4 and an unknown id", async () => {
    const pm = await h.stripe.paymentMethods.create(card(7, 2026));
    const past = await update(pm.id, { exp_month: 1 });
    expect(past.status).toBe(402);
    expect(await past.json()).toMatchObject({ error: { type: "card_error", code: "invalid_expiry_month", param: "exp_month" } });
    expect((await update(pm.id, { exp_year: 2030, cvc: "123" })).status).toBe(400);
    expect((await update(pm.id, {})).status).toBe(400);
    expect((await update(pm.id, { last4: "12" })).status).toBe(400);
    expect((await update("pm_nope", { exp_year: 2030 })).status).toBe(404);
    // Nothing was changed by the refusals.
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).card).toMatchObject({ exp_month: 7, exp_year: 2026, last4: "4242" });
  });
});
