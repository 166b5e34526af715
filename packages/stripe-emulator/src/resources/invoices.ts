import type Stripe from "stripe";
import { diff } from "../core.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, int, listFields, mergeMetadata, obj, objs, s, str, validate } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { clone } from "../store.ts";
import {
  attemptInvoicePayment,
  buildInvoice,
  computeTotals,
  emitInvoiceCreated,
  finalizeInvoice,
  markUncollectible,
  payOutOfBand,
  sendInvoice,
  voidInvoice,
  type LineInput,
} from "../billing/invoices.ts";
import { customFieldsFrom, customFieldsSpec } from "../billing/terms.ts";
import { buildDiscount, finalPeriodLine, itemLine, pendingItemLines } from "../billing/lifecycle.ts";
import { nextBoundary } from "../billing/periods.ts";
import { subscriptionAtNextPhase } from "../billing/schedules.ts";
import { requireCustomer } from "./common.ts";
import { planItemChange, requireSubscription, resolveDiscounts } from "./subscriptions.ts";

export function requireInvoice(ctx: Ctx, id: string, param = "id"): Stripe.Invoice {
  const inv = ctx.core.state.invoices.get(id);
  if (!inv) throw resourceMissing("invoice", id, param);
  return inv;
}

function customerOf(inv: Stripe.Invoice): string {
  return typeof inv.customer === "string" ? inv.customer : (inv.customer?.id ?? "");
}

export function createInvoiceRoute(ctx: Ctx): Stripe.Invoice {
  const p = validate(ctx.raw, {
    customer: s.req(s.str()),
    auto_advance: s.bool(),
    collection_method: s.enum("charge_automatically", "send_invoice"),
    description: s.str(),
    metadata: s.meta(),
    subscription: s.str(),
    default_payment_method: s.str(),
    pending_invoice_items_behavior: s.enum("exclude", "include"),
    automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
    currency: s.str(),
    days_until_due: s.int({ min: 0 }),
    due_date: s.ts(),
    custom_fields: customFieldsSpec,
  });
  const customer = requireCustomer(ctx.core, str(p, "customer") ?? "");
  const now = ctx.core.nowForCustomer(customer.id);
  const collection = str(p, "collection_method") === "send_invoice" ? "send_invoice" : "charge_automatically";
  const days = int(p, "days_until_due");
  const due = int(p, "due_date");
  if (collection === "charge_automatically" && (days !== undefined || due !== undefined)) {
    throw invalidRequest("You can only set a due date (days_until_due or due_date) on invoices with collection_method=send_invoice.", days !== undefined ? "days_until_due" : "due_date");
  }
  if (days !== undefined && due !== undefined) throw invalidRequest("You may only specify one of these parameters: days_until_due, due_date.", "due_date");
  if (collection === "send_invoice" && days === undefined && due === undefined) {
    throw invalidRequest("Invoices with collection_method=send_invoice need a due date: pass days_until_due or due_date.", "days_until_due", "parameter_missing");
  }
  if (due !== undefined && due <= now) throw invalidRequest("Invalid timestamp: must be an integer Unix timestamp in the future.", "due_date");
  const customFields = customFieldsFrom(p, "custom_fields", "custom_fields");
  const lines: LineInput[] = [];
  if (str(p, "pending_invoice_items_behavior") === "include") {
    for (const ii of ctx.core.state.invoiceItems.values()) {
      if (ii.invoice !== null || ii.customer !== customer.id) continue;
      const pr = ii.pricing?.price_details?.price;
      lines.push({
        amount: ii.amount,
        description: ii.description ?? "",
        period: ii.period,
        priceId: typeof pr === "string" ? pr : null,
        quantity: ii.quantity,
        proration: ii.proration,
        subscriptionItemId: null,
        invoiceItemId: ii.id,
        subscriptionId: null,
      });
    }
  }
  const inv = buildInvoice(
    ctx.core,
    {
      customer,
      subscription: null,
      billingReason: "manual",
      periodStart: now,
      periodEnd: now,
      lines,
      now,
      automaticTax: bool(obj(p, "automatic_tax"), "enabled") ?? false,
      discountIds: [],
      metadata: mergeMetadata(null, obj(p, "metadata"), false),
      autoAdvance: bool(p, "auto_advance") ?? false,
      currency: str(p, "currency") ?? "usd",
      collectionMethod: collection,
      daysUntilDue: days ?? null,
      dueDate: due ?? null,
      customFields: customFields ?? null,
    },
    false,
  );
  inv.description = str(p, "description") ?? null;
  inv.default_payment_method = str(p, "default_payment_method") ?? null;
  emitInvoiceCreated(ctx.core, inv, now, ctx.request);
  return inv;
}

export function retrieveInvoice(ctx: Ctx): Stripe.Invoice {
  validate(ctx.raw, {});
  return requireInvoice(ctx, ctx.path.id ?? "");
}

export function updateInvoice(ctx: Ctx): Stripe.Invoice {
  const p = validate(ctx.raw, {
    metadata: s.meta(),
    description: s.str({ emptyable: true }),
    auto_advance: s.bool(),
    default_payment_method: s.str({ emptyable: true }),
    footer: s.str(),
    custom_fields: customFieldsSpec,
  });
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  const customFields = customFieldsFrom(p, "custom_fields", "custom_fields");
  // Like Stripe, a finalized invoice keeps what was printed on it; only metadata-like fields change.
  if (customFields !== undefined && inv.status !== "draft") {
    throw invalidRequest("Finalized invoices can't be updated in this way", "custom_fields", "invoice_not_editable");
  }
  const before = clone(inv);
  if (customFields !== undefined) inv.custom_fields = customFields;
  if (has(p, "metadata")) inv.metadata = mergeMetadata(inv.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "description")) inv.description = str(p, "description") ?? null;
  if (has(p, "auto_advance")) inv.auto_advance = bool(p, "auto_advance") ?? inv.auto_advance;
  if (has(p, "default_payment_method")) inv.default_payment_method = str(p, "default_payment_method") ?? null;
  ctx.core.emit({ type: "invoice.updated", data: { object: inv, previous_attributes: diff(before, inv) } }, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return inv;
}

export function deleteInvoice(ctx: Ctx): Stripe.DeletedInvoice {
  validate(ctx.raw, {});
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  if (inv.status !== "draft") throw invalidRequest("You can only delete draft invoices.", undefined, "invoice_not_editable");
  ctx.core.state.invoices.delete(inv.id);
  ctx.core.pendingInvoices.delete(inv.id);
  for (const ii of ctx.core.state.invoiceItems.values()) if (ii.invoice === inv.id) ii.invoice = null;
  ctx.core.emit({ type: "invoice.deleted", data: { object: inv } }, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return { id: inv.id, object: "invoice", deleted: true };
}

export function finalizeInvoiceRoute(ctx: Ctx): Stripe.Invoice {
  const p = validate(ctx.raw, { auto_advance: s.bool() });
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  if (has(p, "auto_advance")) inv.auto_advance = bool(p, "auto_advance") ?? inv.auto_advance;
  finalizeInvoice(ctx.core, inv, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return inv;
}

/** `POST /v1/invoices/:id/pay`: one attempt now; a decline is a 402 card_error, as on Stripe. */
export function payInvoiceRoute(ctx: Ctx): Stripe.Invoice {
  const p = validate(ctx.raw, { payment_method: s.str(), off_session: s.bool(), paid_out_of_band: s.bool(), forgive: s.bool(), source: s.str() });
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  if (inv.status === "paid") throw invalidRequest("Invoice is already paid", undefined, "invoice_already_paid");
  if (inv.status === "void") throw invalidRequest("This invoice has been voided and can no longer be paid.", undefined, "invoice_not_editable");
  const customerId = customerOf(inv);
  const now = ctx.core.nowForCustomer(customerId);
  const pmRef = str(p, "payment_method");
  if (pmRef !== undefined) {
    const pm = ctx.core.state.paymentMethods.get(pmRef);
    if (!pm) throw resourceMissing("payment_method", pmRef, "payment_method");
    if (pm.customer !== customerId) throw invalidRequest(`The PaymentMethod ${pmRef} does not belong to the invoice's customer.`, "payment_method");
  }
  if (bool(p, "paid_out_of_band")) {
    payOutOfBand(ctx.core, inv, now, ctx.request);
    return inv;
  }
  const out = attemptInvoicePayment(ctx.core, inv, now, ctx.request, pmRef, { manual: true });
  if (!out.paid && out.decline) {
    if (out.paymentIntent === null) throw invalidRequest(out.decline.message, undefined, out.decline.code);
    const pmId = typeof out.paymentIntent.payment_method === "string" ? out.paymentIntent.payment_method : null;
    const pm = pmId ? ctx.core.state.paymentMethods.get(pmId) : undefined;
    throw cardError(out.decline, {
      charge: typeof out.paymentIntent.latest_charge === "string" ? out.paymentIntent.latest_charge : undefined,
      payment_intent: clone(out.paymentIntent),
      payment_method: pm ? clone(pm) : undefined,
    });
  }
  return inv;
}

/** `POST /v1/invoices/:id/send`: see sendInvoice. */
export function sendInvoiceRoute(ctx: Ctx): Stripe.Invoice {
  validate(ctx.raw, {});
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  sendInvoice(ctx.core, inv, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return inv;
}

export function voidInvoiceRoute(ctx: Ctx): Stripe.Invoice {
  validate(ctx.raw, {});
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  voidInvoice(ctx.core, inv, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return inv;
}

export function markUncollectibleRoute(ctx: Ctx): Stripe.Invoice {
  validate(ctx.raw, {});
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  markUncollectible(ctx.core, inv, ctx.core.nowForCustomer(customerOf(inv)), ctx.request);
  return inv;
}

export function listInvoices(ctx: Ctx): Stripe.ApiList<Stripe.Invoice> {
  const p = validate(ctx.raw, {
    ...listFields,
    customer: s.str(),
    subscription: s.str(),
    status: s.enum("draft", "open", "paid", "uncollectible", "void"),
    collection_method: s.str(),
    due_date: s.range(),
  });
  const customer = str(p, "customer");
  const subscription = str(p, "subscription");
  const status = str(p, "status");
  const all = [...ctx.core.state.invoices.values()]
    .reverse()
    .filter(
      (inv) =>
        (customer === undefined || inv.customer === customer) &&
        (subscription === undefined || inv.parent?.subscription_details?.subscription === subscription) &&
        (status === undefined || inv.status === status) &&
        matchesRange(inv.created, p, "created"),
    );
  return paginate(all, p, "/v1/invoices");
}

export function listInvoiceLines(ctx: Ctx): Stripe.ApiList<Stripe.InvoiceLineItem> {
  const p = validate(ctx.raw, listFields);
  const inv = requireInvoice(ctx, ctx.path.id ?? "");
  return paginate(inv.lines.data, p, `/v1/invoices/${inv.id}/lines`);
}

/**
 * `POST /v1/invoices/create_preview`: the invoice a proposed subscription change (or the next
 * renewal) would produce, without changing anything. With create_prorations the preview is the
 * next renewal invoice including the prorations; with always_invoice it is the invoice that
 * would be charged now.
 */
export function createPreview(ctx: Ctx): Stripe.Invoice {
  const p = validate(ctx.raw, {
    customer: s.str(),
    subscription: s.str(),
    automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
    discounts: s.arr(s.obj({ coupon: s.str(), promotion_code: s.str(), discount: s.str() }), { emptyable: true }),
    subscription_details: s.obj({
      items: s.arr(s.obj({ id: s.str(), price: s.str(), quantity: s.int({ min: 0 }), deleted: s.bool(), metadata: s.meta() })),
      proration_behavior: s.enum("create_prorations", "always_invoice", "none"),
      proration_date: s.ts(),
      cancel_at_period_end: s.bool(),
      trial_end: s.ts({ allowNow: true }),
      billing_cycle_anchor: s.enum("now", "unchanged"),
    }),
    customer_details: s.obj({ address: s.obj({ country: s.str(), state: s.str(), postal_code: s.str(), city: s.str(), line1: s.str(), line2: s.str() }) }),
  });
  const core = ctx.core;
  const subId = str(p, "subscription");
  const sub = subId !== undefined ? requireSubscription(core, subId, "subscription") : undefined;
  const customerId = str(p, "customer") ?? (sub ? (typeof sub.customer === "string" ? sub.customer : sub.customer.id) : undefined);
  if (customerId === undefined) throw invalidRequest("Missing required param: customer.", "customer", "parameter_missing");
  const customer = clone(requireCustomer(core, customerId));
  const addr = obj(obj(p, "customer_details"), "address");
  if (addr)
    customer.address = {
      city: str(addr, "city") ?? null,
      country: str(addr, "country") ?? null,
      line1: null,
      line2: null,
      postal_code: str(addr, "postal_code") ?? null,
      state: str(addr, "state") ?? null,
    };
  if (!sub) throw invalidRequest("Previewing an invoice without a subscription requires `subscription_details[items]`; pass `subscription`.", "subscription");
  const now = core.nowForCustomer(customerId);
  const details = obj(p, "subscription_details");
  // A subscription that ends at or before its period end has no next invoice, unless the
  // preview proposes a change (keeping it, or other items): Stripe says so with an error.
  const currentEnd = sub.items.data[0]?.current_period_end ?? now;
  const ending = sub.status === "canceled" || sub.status === "incomplete_expired" || (sub.cancel_at !== null && sub.cancel_at <= currentEnd);
  if (ending && !has(details, "items") && !has(details, "cancel_at_period_end")) {
    throw invalidRequest(`No upcoming invoices for customer: ${customerId}`, undefined, "invoice_upcoming_none");
  }
  const behavior = str(details, "proration_behavior") ?? "create_prorations";
  const plan = planItemChange(core, sub, objs(details, "items"), int(details, "proration_date"), behavior, now, "subscription_details[items]");
  // Without a proposed item change, a schedule whose next phase starts at the period end
  // decides the upcoming invoice: it bills the next phase's items (as Stripe's preview does).
  const scheduled = has(details, "items") ? null : subscriptionAtNextPhase(core, sub);
  const previewSub = scheduled ? scheduled.sub : clone(sub);
  if (!scheduled) previewSub.items.data = plan.newItems;
  const automaticTax = bool(obj(p, "automatic_tax"), "enabled") ?? scheduled?.automaticTax ?? sub.automatic_tax.enabled;
  // `discounts` replaces the subscription's discounts for the preview (coupons as unsaved
  // discounts); otherwise the subscription's, or the next phase's when the schedule decides.
  let discountIds = previewSub.discounts.map((d) => (typeof d === "string" ? d : d.id));
  const transientDiscounts = scheduled ? [...scheduled.transientDiscounts] : [];
  if (has(p, "discounts")) {
    transientDiscounts.length = 0;
    discountIds = resolveDiscounts(core, p, customerId, sub.id).map((r) => {
      if ("discount" in r) return r.discount;
      const d = buildDiscount(core, r.coupon, customerId, sub.id, r.promotionCode, now);
      transientDiscounts.push(d);
      return d.id;
    });
  }
  let lines: LineInput[];
  let reason: Stripe.Invoice.BillingReason;
  let periodStart = now;
  let periodEnd = now;
  if (plan.intervalChanged || (behavior === "always_invoice" && plan.prorations.length > 0)) {
    reason = "subscription_update";
    lines = [...plan.prorations];
    if (plan.intervalChanged) {
      const rec = plan.newItems[0]?.price.recurring;
      const end = rec ? nextBoundary(now, rec.interval, rec.interval_count, now) : now;
      lines.push(...plan.newItems.map((it) => itemLine(core, previewSub, it, now, end, false)));
    }
  } else {
    reason = "upcoming";
    const item = previewSub.items.data[0];
    const start = item?.current_period_end ?? now;
    const rec = item?.price.recurring;
    const end = rec ? nextBoundary(previewSub.billing_cycle_anchor, rec.interval, rec.interval_count, start) : start;
    periodStart = item?.current_period_start ?? now;
    periodEnd = start;
    lines = [...pendingItemLines(core, sub), ...plan.prorations, ...previewSub.items.data.map((it) => finalPeriodLine(itemLine(core, previewSub, it, start, end, false), previewSub.cancel_at))];
  }
  const inv = buildInvoice(
    core,
    {
      customer,
      subscription: previewSub,
      billingReason: reason,
      periodStart,
      periodEnd,
      lines,
      now,
      automaticTax,
      discountIds,
      transientDiscounts,
      prorationDate: plan.prorations.length > 0 ? plan.prorationDate : undefined,
    },
    true,
  );
  computeTotals(core, inv, customer, transientDiscounts);
  inv.amount_due = Math.max(0, inv.total + Math.min(0, customer.balance));
  inv.amount_remaining = inv.amount_due;
  inv.starting_balance = customer.balance;
  return inv;
}
