import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, DAY, eventTypes, jsonOf, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start();
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

/** A Mobile subscriber whose first invoice (4900) is paid: the charge that paid it and its clock. */
async function paidCharge(): Promise<{ clock: Stripe.TestHelpers.TestClock; invoice: Stripe.Invoice; charge: Stripe.Charge }> {
  const { clock, customer } = await clockCustomer(h.stripe);
  const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }] });
  const invoice = await h.stripe.invoices.retrieve(typeof sub.latest_invoice === "string" ? sub.latest_invoice : (sub.latest_invoice?.id ?? ""));
  const payment = (await h.stripe.invoicePayments.list({ invoice: invoice.id })).data[0];
  const pi = await h.stripe.paymentIntents.retrieve(String(payment?.payment.payment_intent));
  return { clock, invoice, charge: await h.stripe.charges.retrieve(String(pi.latest_charge)) };
}

/** `POST /_emulator/charges/:charge/early_fraud_warning`: the issuer's report. */
async function raise(chargeId: string, body: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${h.em.url}/_emulator/charges/${chargeId}/early_fraud_warning`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

const about = (id: string) => (e: Stripe.Event) => (e.data.object as { charge?: unknown }).charge === id && e.type.startsWith("radar.");

describe("radar early fraud warnings", () => {
  it("an issuer's warning on a paid charge is actionable, dated on the customer's clock, and read back through the official client", async () => {
    const { clock, charge } = await paidCharge();
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 2 * DAY });
    const res = await raise(charge.id);
    expect(res.status).toBe(200);
    const raised = await jsonOf<Stripe.Radar.EarlyFraudWarning>(res);
    expect(raised).toMatchObject({
      object: "radar.early_fraud_warning",
      actionable: true,
      charge: charge.id,
      fraud_type: "made_with_stolen_card",
      created: T0 + 2 * DAY,
      payment_intent: charge.payment_intent,
    });
    expect(raised.id).toMatch(/^issfr_/);
    expect(await h.stripe.radar.earlyFraudWarnings.retrieve(raised.id)).toEqual(raised);
    const created = (await h.stripe.events.list({ type: "radar.early_fraud_warning.created", limit: 100 })).data.find((e) => (e.data.object as { id: string }).id === raised.id);
    expect(created?.data.object).toEqual(raised);
    expect(created?.created).toBe(T0 + 2 * DAY);
  });

  it("lists by charge and by payment intent, newest first", async () => {
    const a = await paidCharge();
    const b = await paidCharge();
    const first = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(a.charge.id, { fraud_type: "unauthorized_use_of_card" }));
    const second = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(a.charge.id, { fraud_type: "misc" }));
    const other = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(b.charge.id));
    expect((await h.stripe.radar.earlyFraudWarnings.list({ charge: a.charge.id })).data.map((w) => w.id)).toEqual([second.id, first.id]);
    expect((await h.stripe.radar.earlyFraudWarnings.list({ payment_intent: String(b.charge.payment_intent) })).data.map((w) => w.id)).toEqual([other.id]);
    const all = (await h.stripe.radar.earlyFraudWarnings.list({ limit: 100 })).data.map((w) => w.id);
    expect(all.indexOf(other.id)).toBeLessThan(all.indexOf(second.id));
    expect(first.fraud_type).toBe("unauthorized_use_of_card");
  });

  it("a full refund of the charge makes its warning not actionable, with radar.early_fraud_warning.updated; a partial one does not", async () => {
    const { charge } = await paidCharge();
    const warning = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(charge.id));
    await h.stripe.refunds.create({ charge: charge.id, amount: 1000 });
    expect((await h.stripe.radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(true);
    await h.stripe.refunds.create({ charge: charge.id });
    expect((await h.stripe.radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);
    expect(await eventTypes(h.stripe, about(charge.id))).toEqual(["radar.early_fraud_warning.created", "radar.early_fraud_warning.updated"]);
    const updated = (await h.stripe.events.list({ type: "radar.early_fraud_warning.updated", limit: 100 })).data.find((e) => (e.data.object as { id: string }).id === warning.id);
    expect(updated?.data.previous_attributes).toEqual({ actionable: true });
  });

  it("a credit note that refunds the whole invoice settles the warning as a refund does", async () => {
    const { invoice, charge } = await paidCharge();
    const warning = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(charge.id));
    await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 4900, refund_amount: 4900, reason: "fraudulent" });
    expect((await h.stripe.radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);
  });

  it("a dispute of the charge makes its warning not actionable; a warning raised after one is not actionable from the start", async () => {
    const { charge } = await paidCharge();
    const warning = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(charge.id));
    const disputed = await fetch(`${h.em.url}/_emulator/charges/${charge.id}/dispute`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(disputed.status).toBe(200);
    expect((await h.stripe.radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);
    expect(await eventTypes(h.stripe, about(charge.id))).toEqual(["radar.early_fraud_warning.created", "radar.early_fraud_warning.updated"]);
    expect((await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(charge.id))).actionable).toBe(false);
  });

  it("a warning on a charge already refunded in full is not actionable from the start", async () => {
    const { charge } = await paidCharge();
    await h.stripe.refunds.create({ charge: charge.id });
    const warning = await jsonOf<Stripe.Radar.EarlyFraudWarning>(await raise(charge.id, { fraud_type: "card_never_received" }));
    expect(warning).toMatchObject({ actionable: false, fraud_type: "card_never_received" });
    expect(await eventTypes(h.stripe, about(charge.id))).toEqual(["radar.early_fraud_warning.created"]);
  });

  it("refuses an unknown fraud_type or key (400) and an unknown charge or warning (404)", async () => {
    const { charge } = await paidCharge();
    const bad = await raise(charge.id, { fraud_type: "stolen" });
    expect(bad.status).toBe(400);
    expect(await jsonOf<{ error: { param: string } }>(bad)).toMatchObject({ error: { param: "fraud_type" } });
    expect((await raise(charge.id, { amount: 1 })).status).toBe(400);
    expect((await raise("ch_missing")).status).toBe(404);
    const missing = await h.stripe.radar.earlyFraudWarnings.retrieve("issfr_missing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((await h.stripe.radar.earlyFraudWarnings.list({ charge: charge.id })).data).toEqual([]);
  });
});
