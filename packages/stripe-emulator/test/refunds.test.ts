import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, eventTypes, start, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start();
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

/** A Mobile subscriber whose first invoice (4900) is paid: the invoice and the charge that paid it. */
async function paidInvoice(): Promise<{ customer: Stripe.Customer; invoice: Stripe.Invoice; charge: Stripe.Charge }> {
  const { customer } = await clockCustomer(h.stripe);
  const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }] });
  const invoice = await h.stripe.invoices.retrieve(typeof sub.latest_invoice === "string" ? sub.latest_invoice : (sub.latest_invoice?.id ?? ""));
  const payment = (await h.stripe.invoicePayments.list({ invoice: invoice.id })).data[0];
  const pi = await h.stripe.paymentIntents.retrieve(String(payment?.payment.payment_intent));
  const charge = await h.stripe.charges.retrieve(String(pi.latest_charge));
  return { customer, invoice, charge };
}

const about = (ids: string[]) => (e: Stripe.Event) => {
  const o = e.data.object as { id?: string; charge?: unknown; invoice?: unknown };
  return ids.includes(String(o.id)) || ids.includes(String(o.charge)) || ids.includes(String(o.invoice));
};

describe("refunds", () => {
  it("a partial then the rest of a charge: amount_refunded and refunded follow, events as Stripe sends them", async () => {
    const { charge } = await paidInvoice();
    expect(charge.amount_refunded).toBe(0);
    const first = await h.stripe.refunds.create({ charge: charge.id, amount: 1000, reason: "requested_by_customer" });
    expect(first).toMatchObject({ object: "refund", amount: 1000, charge: charge.id, status: "succeeded", reason: "requested_by_customer", currency: "usd" });
    expect(await h.stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 1000, refunded: false });
    const rest = await h.stripe.refunds.create({ payment_intent: String(charge.payment_intent) });
    expect(rest.amount).toBe(3900);
    expect(await h.stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 4900, refunded: true });
    const listed = await h.stripe.refunds.list({ charge: charge.id });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, first.id]);
    expect(await eventTypes(h.stripe, about([charge.id]))).toEqual(["charge.succeeded", "charge.refunded", "refund.created", "charge.refunded", "refund.created"]);
  });

  it("never refunds more than was charged", async () => {
    const { charge } = await paidInvoice();
    await h.stripe.refunds.create({ charge: charge.id, amount: 4000 });
    const tooMuch = await h.stripe.refunds.create({ charge: charge.id, amount: 901 }).catch((e: unknown) => e);
    expect(tooMuch).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(tooMuch).toMatchObject({ param: "amount", code: "amount_too_large" });
    await h.stripe.refunds.create({ charge: charge.id });
    const again = await h.stripe.refunds.create({ charge: charge.id }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: "charge_already_refunded" });
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(4900);
  });
});

describe("credit notes", () => {
  it("a full credit note with refund_amount: one refund of the invoice's charge, the invoice's post-payment credit, events", async () => {
    const { invoice, charge } = await paidInvoice();
    const preview = await h.stripe.creditNotes.preview({ invoice: invoice.id, amount: 4900, refund_amount: 4900 });
    expect(preview).toMatchObject({ amount: 4900, total: 4900, type: "post_payment", refunds: [] });
    expect((await h.stripe.creditNotes.list({ invoice: invoice.id })).data).toEqual([]);
    const note = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 4900, refund_amount: 4900, reason: "order_change", metadata: { end_access: "true" } });
    expect(note).toMatchObject({
      object: "credit_note",
      invoice: invoice.id,
      amount: 4900,
      status: "issued",
      type: "post_payment",
      post_payment_amount: 4900,
      reason: "order_change",
      metadata: { end_access: "true" },
    });
    expect(note.number).toBe(`${invoice.number}-CN-01`);
    expect(note.refunds).toHaveLength(1);
    const refund = await h.stripe.refunds.retrieve(String(note.refunds[0]?.refund));
    expect(refund).toMatchObject({ amount: 4900, charge: charge.id });
    expect(await h.stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 4900, refunded: true });
    expect((await h.stripe.invoices.retrieve(invoice.id)).post_payment_credit_notes_amount).toBe(4900);
    expect((await h.stripe.creditNotes.list({ invoice: invoice.id })).data.map((n) => n.id)).toEqual([note.id]);
    const types = await eventTypes(h.stripe, about([charge.id, invoice.id, refund.id, note.id]));
    expect(types.slice(types.indexOf("charge.refunded"))).toEqual(["charge.refunded", "refund.created", "credit_note.created", "invoice.updated"]);
  });

  it("a partial credit note by invoice line: refund and balance credit must add up to its total", async () => {
    const { customer, invoice, charge } = await paidInvoice();
    const line = invoice.lines.data[0];
    const unbalanced = await h.stripe.creditNotes
      .create({ invoice: invoice.id, lines: [{ type: "invoice_line_item", invoice_line_item: line?.id, amount: 2000 }], refund_amount: 1000, credit_amount: 500 })
      .catch((e: unknown) => e);
    expect(unbalanced).toMatchObject({ param: "refund_amount" });
    const note = await h.stripe.creditNotes.create({ invoice: invoice.id, lines: [{ type: "invoice_line_item", invoice_line_item: line?.id, amount: 2000 }], refund_amount: 1500, credit_amount: 500 });
    expect(note).toMatchObject({ amount: 2000, lines: { data: [{ amount: 2000, invoice_line_item: line?.id, type: "invoice_line_item" }] } });
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(1500);
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ balance: -500 });
    expect((await h.stripe.creditNotes.listLineItems(note.id)).data.map((l) => l.amount)).toEqual([2000]);
  });

  it("refuses more than the invoice has left to credit, and changes nothing", async () => {
    const { invoice, charge } = await paidInvoice();
    await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 3000, refund_amount: 3000 });
    const tooMuch = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 2000, refund_amount: 2000 }).catch((e: unknown) => e);
    expect(tooMuch).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(tooMuch).toMatchObject({ param: "amount", code: "credit_note_amount_too_large" });
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(3000);
    expect((await h.stripe.invoices.retrieve(invoice.id)).post_payment_credit_notes_amount).toBe(3000);
    expect((await h.stripe.creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
  });

  it("accounts for a refund made before it instead of refunding twice", async () => {
    const { invoice, charge } = await paidInvoice();
    const refund = await h.stripe.refunds.create({ charge: charge.id });
    const note = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 4900, refunds: [{ refund: refund.id, amount_refunded: 4900 }] });
    expect(note.refunds.map((r) => r.refund)).toEqual([refund.id]);
    expect((await h.stripe.refunds.list({ charge: charge.id })).data).toHaveLength(1);
  });
});
