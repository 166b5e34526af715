import Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, int, listFields, mergeMetadata, obj, s, str, validate } from "../form.ts";
import { newId } from "../ids.ts";
import { matchesRange, paginate } from "../list.ts";
import { requireCustomer, requirePrice } from "./common.ts";

export function createInvoiceItem(ctx: Ctx): Stripe.InvoiceItem {
  const p = validate(ctx.raw, {
    customer: s.req(s.str()),
    amount: s.int(),
    currency: s.str(),
    description: s.str(),
    invoice: s.str(),
    subscription: s.str(),
    metadata: s.meta(),
    quantity: s.int({ min: 0 }),
    discountable: s.bool(),
    period: s.obj({ start: s.req(s.ts()), end: s.req(s.ts()) }),
    pricing: s.obj({ price: s.str() }),
    price_data: s.obj({ currency: s.req(s.str()), product: s.req(s.str()), unit_amount: s.int() }),
  });
  const customer = requireCustomer(ctx.core, str(p, "customer") ?? "");
  const now = ctx.core.nowForCustomer(customer.id);
  const priceId = str(obj(p, "pricing"), "price");
  const price = priceId !== undefined ? requirePrice(ctx.core, priceId, "pricing[price]") : undefined;
  const quantity = int(p, "quantity") ?? 1;
  const amount =
    int(p, "amount") ?? (price ? (price.unit_amount ?? 0) * quantity : int(obj(p, "price_data"), "unit_amount") !== undefined ? (int(obj(p, "price_data"), "unit_amount") ?? 0) * quantity : undefined);
  if (amount === undefined) throw invalidRequest("Missing required param: amount.", "amount", "parameter_missing");
  const invoiceId = str(p, "invoice") ?? null;
  const inv = invoiceId ? ctx.core.state.invoices.get(invoiceId) : undefined;
  if (invoiceId && !inv) throw resourceMissing("invoice", invoiceId, "invoice");
  if (inv && inv.status !== "draft") throw invalidRequest("You can only add invoice items to draft invoices.", "invoice", "invoice_not_editable");
  const subId = str(p, "subscription");
  if (subId !== undefined && !ctx.core.state.subscriptions.has(subId)) throw resourceMissing("subscription", subId, "subscription");
  const period = obj(p, "period");
  const ii: Stripe.InvoiceItem = {
    id: newId("ii"),
    object: "invoiceitem",
    amount,
    currency: (str(p, "currency") ?? price?.currency ?? "usd").toLowerCase(),
    customer: customer.id,
    customer_account: null,
    date: now,
    description: str(p, "description") ?? null,
    discountable: bool(p, "discountable") ?? true,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    net_amount: amount,
    parent: subId !== undefined ? { type: "subscription_details", subscription_details: { subscription: subId } } : null,
    period: { start: int(period, "start") ?? now, end: int(period, "end") ?? now },
    pricing: price
      ? { type: "price_details", price_details: { price: price.id, product: typeof price.product === "string" ? price.product : price.product.id }, unit_amount_decimal: price.unit_amount_decimal }
      : null,
    proration: false,
    quantity,
    quantity_decimal: Stripe.Decimal.from(String(quantity)),
    tax_rates: [],
    test_clock: typeof customer.test_clock === "string" ? customer.test_clock : null,
  };
  ctx.core.state.invoiceItems.set(ii.id, ii);
  if (inv) {
    inv.lines.data.push({
      id: newId("il"),
      object: "line_item",
      amount,
      currency: ii.currency,
      description: ii.description,
      discount_amounts: [],
      discountable: ii.discountable,
      discounts: [],
      invoice: inv.id,
      livemode: false,
      metadata: {},
      parent: {
        type: "invoice_item_details",
        subscription_item_details: null,
        invoice_item_details: { invoice_item: ii.id, proration: false, proration_details: { credited_items: null }, subscription: subId ?? null },
      },
      period: ii.period,
      pretax_credit_amounts: [],
      pricing: ii.pricing ? { type: "price_details", price_details: ii.pricing.price_details, unit_amount_decimal: ii.pricing.unit_amount_decimal } : null,
      quantity,
      quantity_decimal: Stripe.Decimal.from(String(quantity)),
      subscription: subId ?? null,
      subtotal: amount,
      taxes: [],
    });
  }
  ctx.core.emit({ type: "invoiceitem.created", data: { object: ii } }, now, ctx.request);
  return ii;
}

export function retrieveInvoiceItem(ctx: Ctx): Stripe.InvoiceItem {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const ii = ctx.core.state.invoiceItems.get(id);
  if (!ii) throw resourceMissing("invoiceitem", id);
  return ii;
}

export function deleteInvoiceItem(ctx: Ctx): Stripe.DeletedInvoiceItem {
  const ii = retrieveInvoiceItem(ctx);
  if (ii.invoice !== null) {
    const inv = ctx.core.state.invoices.get(typeof ii.invoice === "string" ? ii.invoice : ii.invoice.id);
    if (inv && inv.status !== "draft") throw invalidRequest("You can only delete invoice items on draft invoices.", undefined, "invoice_not_editable");
  }
  ctx.core.state.invoiceItems.delete(ii.id);
  ctx.core.emit({ type: "invoiceitem.deleted", data: { object: ii } }, ctx.core.nowForCustomer(typeof ii.customer === "string" ? ii.customer : ii.customer.id), ctx.request);
  return { id: ii.id, object: "invoiceitem", deleted: true };
}

export function listInvoiceItems(ctx: Ctx): Stripe.ApiList<Stripe.InvoiceItem> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str(), invoice: s.str(), pending: s.bool() });
  const customer = str(p, "customer");
  const invoice = str(p, "invoice");
  const pending = bool(p, "pending");
  const all = [...ctx.core.state.invoiceItems.values()]
    .reverse()
    .filter(
      (ii) =>
        (customer === undefined || ii.customer === customer) &&
        (invoice === undefined || ii.invoice === invoice) &&
        (pending === undefined || (ii.invoice === null) === pending) &&
        matchesRange(ii.date, p, "created"),
    );
  return paginate(all, p, "/v1/invoiceitems");
}
