import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { listFields, obj, s, str, validate } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";

/** Read access to the PaymentIntents, Charges and InvoicePayments that invoices create. */
export function retrievePaymentIntent(ctx: Ctx): Stripe.PaymentIntent {
  validate(ctx.raw, { client_secret: s.str() });
  const id = ctx.path.id ?? "";
  const pi = ctx.core.state.paymentIntents.get(id);
  if (!pi) throw resourceMissing("payment_intent", id);
  return pi;
}

export function listPaymentIntents(ctx: Ctx): Stripe.ApiList<Stripe.PaymentIntent> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str() });
  const customer = str(p, "customer");
  const all = [...ctx.core.state.paymentIntents.values()].reverse().filter((x) => (customer === undefined || x.customer === customer) && matchesRange(x.created, p, "created"));
  return paginate(all, p, "/v1/payment_intents");
}

export function retrieveCharge(ctx: Ctx): Stripe.Charge {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const ch = ctx.core.state.charges.get(id);
  if (!ch) throw resourceMissing("charge", id);
  return ch;
}

export function listCharges(ctx: Ctx): Stripe.ApiList<Stripe.Charge> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str(), payment_intent: s.str() });
  const customer = str(p, "customer");
  const pi = str(p, "payment_intent");
  const all = [...ctx.core.state.charges.values()]
    .reverse()
    .filter((x) => (customer === undefined || x.customer === customer) && (pi === undefined || x.payment_intent === pi) && matchesRange(x.created, p, "created"));
  return paginate(all, p, "/v1/charges");
}

export function retrieveInvoicePayment(ctx: Ctx): Stripe.InvoicePayment {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const x = ctx.core.state.invoicePayments.get(id);
  if (!x) throw resourceMissing("invoice_payment", id);
  return x;
}

export function listInvoicePayments(ctx: Ctx): Stripe.ApiList<Stripe.InvoicePayment> {
  const p = validate(ctx.raw, { ...listFields, invoice: s.str(), payment: s.obj({ type: s.str(), payment_intent: s.str() }), status: s.str() });
  const invoice = str(p, "invoice");
  const status = str(p, "status");
  const pi = str(obj(p, "payment"), "payment_intent");
  const all = [...ctx.core.state.invoicePayments.values()]
    .reverse()
    .filter((x) => (invoice === undefined || x.invoice === invoice) && (status === undefined || x.status === status) && (pi === undefined || x.payment.payment_intent === pi));
  return paginate(all, p, "/v1/invoice_payments");
}
