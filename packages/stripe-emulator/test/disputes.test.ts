import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, eventTypes, jsonOf, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start();
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

/** A Mobile subscriber (4900) paying with `card`: the charge that paid the first invoice. */
async function paidCharge(card: string): Promise<{ customer: Stripe.Customer; invoice: Stripe.Invoice; charge: Stripe.Charge }> {
  const { customer } = await clockCustomer(h.stripe, card);
  const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }] });
  const invoice = await h.stripe.invoices.retrieve(typeof sub.latest_invoice === "string" ? sub.latest_invoice : (sub.latest_invoice?.id ?? ""));
  const payment = (await h.stripe.invoicePayments.list({ invoice: invoice.id })).data[0];
  const pi = await h.stripe.paymentIntents.retrieve(String(payment?.payment.payment_intent));
  const charge = await h.stripe.charges.retrieve(String(pi.latest_charge));
  return { customer, invoice, charge };
}

const about = (charge: string) => (e: Stripe.Event) => {
  const o = e.data.object as { id?: string; charge?: unknown };
  return o.id === charge || o.charge === charge;
};

async function emulatorDispute(charge: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`http://127.0.0.1:${h.em.port}/_emulator/charges/${charge}/dispute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("disputes from Stripe's dispute test card", () => {
  it("pm_card_createDispute: the payment succeeds, then a fraudulent chargeback with its $15.00 fee and events", async () => {
    const { invoice, charge } = await paidCharge("pm_card_createDispute");
    expect(invoice.status).toBe("paid");
    expect(charge).toMatchObject({ status: "succeeded", paid: true, disputed: true });
    const disputes = await h.stripe.disputes.list({ charge: charge.id });
    expect(disputes.data).toHaveLength(1);
    const dispute = disputes.data[0]!;
    expect(dispute).toMatchObject({
      object: "dispute",
      charge: charge.id,
      payment_intent: charge.payment_intent,
      amount: 4900,
      currency: "usd",
      reason: "fraudulent",
      status: "needs_response",
      is_charge_refundable: false,
      evidence_details: { due_by: T0 + 7 * 86_400, has_evidence: false, submission_count: 0, past_due: false },
    });
    expect(dispute.balance_transactions).toHaveLength(1);
    expect(dispute.balance_transactions[0]).toMatchObject({ amount: -4900, fee: 1500, net: -6400, currency: "usd", reporting_category: "dispute", type: "adjustment" });
    expect(await h.stripe.disputes.retrieve(dispute.id)).toEqual(dispute);
    expect((await h.stripe.disputes.list({ payment_intent: String(charge.payment_intent) })).data.map((d) => d.id)).toEqual([dispute.id]);
    // The dispute comes after the payment, as the issuer files it once the money has moved.
    const types = await eventTypes(h.stripe, about(charge.id));
    expect(types).toEqual(["charge.succeeded", "charge.dispute.created", "charge.dispute.funds_withdrawn"]);
  });

  it("winning_evidence submitted: under review, then won with the amount and fee reinstated", async () => {
    const { charge } = await paidCharge("pm_card_createDispute");
    const dispute = (await h.stripe.disputes.list({ charge: charge.id })).data[0]!;
    const staged = await h.stripe.disputes.update(dispute.id, { evidence: { customer_email_address: "user@example.com", uncategorized_text: "winning_evidence" }, submit: false });
    expect(staged).toMatchObject({
      status: "needs_response",
      evidence: { customer_email_address: "user@example.com", uncategorized_text: "winning_evidence" },
      evidence_details: { has_evidence: true, submission_count: 0 },
    });
    const won = await h.stripe.disputes.update(dispute.id, { submit: true });
    expect(won).toMatchObject({ status: "won", evidence_details: { submission_count: 1, submission_method: "manual" } });
    expect(won.balance_transactions.map((t) => [t.amount, t.fee])).toEqual([
      [-4900, 1500],
      [4900, -1500],
    ]);
    expect(await eventTypes(h.stripe, about(charge.id))).toEqual([
      "charge.succeeded",
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.updated",
      "charge.dispute.updated",
      "charge.dispute.funds_reinstated",
      "charge.dispute.closed",
    ]);
    const again = await h.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: "more" } }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ param: "evidence" });
  });

  it("losing_evidence submitted (submit defaults to true): lost, the funds stay withdrawn", async () => {
    const { charge } = await paidCharge("pm_card_createDispute");
    const dispute = (await h.stripe.disputes.list({ charge: charge.id })).data[0]!;
    const lost = await h.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: "losing_evidence" } });
    expect(lost.status).toBe("lost");
    expect(lost.balance_transactions).toHaveLength(1);
    expect((await eventTypes(h.stripe, about(charge.id))).slice(-2)).toEqual(["charge.dispute.updated", "charge.dispute.closed"]);
  });

  it("other evidence stays under review; metadata alone is kept", async () => {
    const { charge } = await paidCharge("pm_card_createDispute");
    const dispute = (await h.stripe.disputes.list({ charge: charge.id })).data[0]!;
    const tagged = await h.stripe.disputes.update(dispute.id, { metadata: { access_policy: "end_access" }, submit: false });
    expect(tagged).toMatchObject({ status: "needs_response", metadata: { access_policy: "end_access" } });
    const reviewed = await h.stripe.disputes.update(dispute.id, { evidence: { uncategorized_text: "the customer used the service" } });
    expect(reviewed).toMatchObject({ status: "under_review", metadata: { access_policy: "end_access" } });
  });

  it("close accepts the dispute: lost; a closed dispute cannot be closed again", async () => {
    const { charge } = await paidCharge("pm_card_createDispute");
    const dispute = (await h.stripe.disputes.list({ charge: charge.id })).data[0]!;
    expect(await h.stripe.disputes.close(dispute.id)).toMatchObject({ status: "lost" });
    expect(await h.stripe.disputes.close(dispute.id).catch((e: unknown) => e)).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((await eventTypes(h.stripe, about(charge.id))).at(-1)).toBe("charge.dispute.closed");
  });

  it("the product-not-received and inquiry cards: their reasons; an inquiry withdraws nothing until lost", async () => {
    const pnr = await paidCharge("pm_card_createDisputeProductNotReceived");
    expect((await h.stripe.disputes.list({ charge: pnr.charge.id })).data[0]).toMatchObject({ reason: "product_not_received", status: "needs_response" });
    const inq = await paidCharge("pm_card_createDisputeInquiry");
    const inquiry = (await h.stripe.disputes.list({ charge: inq.charge.id })).data[0]!;
    expect(inquiry).toMatchObject({ status: "warning_needs_response", balance_transactions: [], payment_method_details: { card: { case_type: "inquiry" } } });
    expect(await h.stripe.disputes.update(inquiry.id, { evidence: { uncategorized_text: "winning_evidence" } })).toMatchObject({ status: "warning_closed", balance_transactions: [] });
  });

  it("a card number: 4000 0000 0000 0259 is the dispute card", async () => {
    const pm = await h.stripe.paymentMethods.create({ type: "card", card: { number: "4000000000000259", exp_month: 12, exp_year: 2034, cvc: "123" } });
    expect(pm.card?.last4).toBe("0259");
  });
});

describe("POST /_emulator/charges/:charge/dispute", () => {
  it("disputes any paid charge with the reason given, as Stripe's API then shows it", async () => {
    const { charge } = await paidCharge("pm_card_visa");
    const res = await emulatorDispute(charge.id, { reason: "product_unacceptable" });
    expect(res.status).toBe(200);
    const dispute = await jsonOf<Stripe.Dispute>(res);
    expect(await h.stripe.disputes.retrieve(dispute.id)).toMatchObject({ reason: "product_unacceptable", status: "needs_response", charge: charge.id });
    expect(await h.stripe.charges.retrieve(charge.id)).toMatchObject({ disputed: true });
    const twice = await emulatorDispute(charge.id, {});
    expect(twice.status).toBe(400);
  });

  it("defaults to fraudulent, and refuses an unknown reason or charge naming it", async () => {
    const { charge } = await paidCharge("pm_card_visa");
    const bad = await emulatorDispute(charge.id, { reason: "because" });
    expect(bad.status).toBe(400);
    expect(await jsonOf<{ error: { param: string } }>(bad)).toMatchObject({ error: { param: "reason" } });
    expect((await emulatorDispute("ch_missing", {})).status).toBe(404);
    const made = await jsonOf<Stripe.Dispute>(await emulatorDispute(charge.id, {}));
    expect(made.reason).toBe("fraudulent");
  });
});
