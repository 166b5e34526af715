import Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidRequest, resourceMissing, type StripeApiError } from "../errors.ts";
import { arr, bool, has, int, isJsonRecord, listFields, mergeMetadata, obj, objs, s, str, validate, type Params } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { clone, type SubscriptionMeta } from "../store.ts";
import { newId } from "../ids.ts";
import { prorate } from "../proration.ts";
import { attemptInvoicePayment, buildInvoice, chargesAutomatically, emitInvoiceCreated, finalizeInvoice, voidInvoice, type LineInput, type PayOutcome } from "../billing/invoices.ts";
import {
  cancelSubscriptionNow,
  createSubscription,
  itemLine,
  money,
  pendingItemLines,
  planFromPrice,
  productName,
  redeemDiscounts,
  subscriptionItem,
  type DiscountRef,
  type ItemInput,
} from "../billing/lifecycle.ts";
import { restartCycle } from "../billing/periods.ts";
import { scheduleOf } from "../billing/schedules.ts";
import { customFieldsFrom, customFieldsSpec } from "../billing/terms.ts";
import { requireCustomer, requirePrice } from "./common.ts";

const itemSpec = s.obj({
  price: s.str(),
  quantity: s.int({ min: 0 }),
  metadata: s.meta(),
  price_data: s.obj({ currency: s.str(), product: s.str(), unit_amount: s.int(), recurring: s.obj({ interval: s.str(), interval_count: s.int() }) }),
});
export const discountsSpec = s.arr(s.obj({ coupon: s.str(), promotion_code: s.str(), discount: s.str() }), { emptyable: true });

export const createFields = {
  customer: s.req(s.str()),
  items: s.req(s.arr(itemSpec)),
  trial_period_days: s.int({ min: 0, max: 730 }),
  trial_end: s.ts({ allowNow: true }),
  trial_from_plan: s.bool(),
  metadata: s.meta(),
  default_payment_method: s.str(),
  automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
  discounts: discountsSpec,
  coupon: s.str(),
  promotion_code: s.str(),
  payment_behavior: s.enum("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"),
  cancel_at_period_end: s.bool(),
  collection_method: s.enum("charge_automatically", "send_invoice"),
  days_until_due: s.int({ min: 0, max: 730 }),
  invoice_settings: s.obj({ custom_fields: customFieldsSpec }),
  cancel_at: s.ts(),
  description: s.str(),
  off_session: s.bool(),
  proration_behavior: s.enum("create_prorations", "always_invoice", "none"),
  trial_settings: s.obj({ end_behavior: s.obj({ missing_payment_method: s.enum("cancel", "create_invoice", "pause") }) }),
  payment_settings: s.obj({ save_default_payment_method: s.enum("on_subscription", "off"), payment_method_types: s.arr(s.str()) }),
};

/**
 * Resolves the discounts of a request: the legacy single `coupon` / `promotion_code` and each
 * `discounts[i]` entry, which names exactly one of `coupon`, `promotion_code` (redeemed into a
 * new discount) or `discount` (an existing discount of this subscription, or of its customer,
 * kept as the same object). Every error names its param. Nothing is written.
 */
export function resolveDiscounts(core: Core, p: Params, customerId: string | null, subscriptionId: string | null = null): DiscountRef[] {
  const refs: DiscountRef[] = [];
  const single = resolveDiscountEntry(
    core,
    { ...(has(p, "coupon") && p.coupon !== null ? { coupon: p.coupon } : {}), ...(has(p, "promotion_code") ? { promotion_code: p.promotion_code } : {}) },
    "",
    customerId,
    subscriptionId,
  );
  if (single) refs.push(single);
  refs.push(...resolveDiscountEntries(core, objs(p, "discounts") ?? [], "discounts", customerId, subscriptionId));
  return refs;
}

/** `discounts[]` entries under `prefix` (e.g. `phases[1][discounts]`), resolved in order. */
export function resolveDiscountEntries(core: Core, entries: Params[], prefix: string, customerId: string | null, subscriptionId: string | null): DiscountRef[] {
  const refs: DiscountRef[] = [];
  entries.forEach((d, i) => {
    const ref = resolveDiscountEntry(core, d, `${prefix}[${i}]`, customerId, subscriptionId);
    if (!ref) return;
    if ("discount" in ref && refs.some((r) => "discount" in r && r.discount === ref.discount)) {
      throw invalidRequest(`The discount \`${ref.discount}\` is listed more than once.`, `${prefix}[${i}][discount]`);
    }
    refs.push(ref);
  });
  return refs;
}

function resolveDiscountEntry(core: Core, d: Params, at: string, customerId: string | null, subscriptionId: string | null): DiscountRef | null {
  const keys = ["coupon", "promotion_code", "discount"].filter((k) => str(d, k) !== undefined);
  const param = (k: string): string => (at === "" ? k : `${at}[${k}]`);
  if (keys.length > 1) throw invalidRequest(`You may only specify one of these parameters: ${keys.join(", ")}.`, param(keys[1] ?? "discount"));
  const promoId = str(d, "promotion_code");
  const couponId = str(d, "coupon");
  const discountId = str(d, "discount");
  if (promoId !== undefined) {
    const promo = core.state.promotionCodes.get(promoId);
    if (!promo) throw resourceMissing("promotion_code", promoId, param("promotion_code"));
    if (!promo.active) throw invalidRequest("This promotion code is not active.", param("promotion_code"));
    if (promo.customer !== null && promo.customer !== customerId) throw invalidRequest("This promotion code cannot be redeemed by this customer.", param("promotion_code"));
    if (promo.max_redemptions !== null && promo.times_redeemed >= promo.max_redemptions) throw invalidRequest("This promotion code has been fully redeemed.", param("promotion_code"));
    const c = promo.promotion.coupon;
    const coupon = typeof c === "string" ? c : c?.id;
    return coupon === undefined ? null : { coupon, promotionCode: promo.id };
  }
  if (couponId !== undefined) {
    const coupon = core.state.coupons.get(couponId);
    if (!coupon) throw resourceMissing("coupon", couponId, param("coupon"));
    if (!coupon.valid) throw invalidRequest("Coupon is no longer valid.", param("coupon"));
    return { coupon: couponId, promotionCode: null };
  }
  if (discountId !== undefined) {
    const discount = core.state.discounts.get(discountId);
    if (!discount) throw invalidRequest(`No such discount: '${discountId}'`, param("discount"), "resource_missing");
    // Only a discount "on the object (or one of its ancestors)" can be reused: this
    // subscription's own, or one of its customer's that is not tied to a subscription.
    const own = subscriptionId !== null && discount.subscription === subscriptionId;
    const customers = discount.subscription === null && discount.customer !== null && discount.customer === customerId;
    if (!own && !customers) {
      throw invalidRequest(`The discount \`${discountId}\` cannot be used here: it belongs to ${discount.subscription !== null ? "another subscription" : "another customer"}.`, param("discount"));
    }
    return { discount: discountId };
  }
  return null;
}

function itemsFrom(core: Core, p: Params): ItemInput[] {
  const list = arr(p, "items") ?? [];
  if (list.length === 0) throw invalidRequest("Missing required param: items.", "items", "parameter_missing");
  return list.map((raw, i) => {
    const it = isJsonRecord(raw) ? raw : {};
    const priceId = str(it, "price");
    if (priceId === undefined) throw invalidRequest(`Missing required param: items[${i}][price].`, `items[${i}][price]`, "parameter_missing");
    return { price: requirePrice(core, priceId, `items[${i}][price]`), quantity: int(it, "quantity") ?? 1, metadata: mergeMetadata(null, obj(it, "metadata"), false) };
  });
}

export function createSubscriptionRoute(ctx: Ctx): Stripe.Subscription {
  const p = validate(ctx.raw, createFields);
  const core = ctx.core;
  const customer = requireCustomer(core, str(p, "customer") ?? "");
  const items = itemsFrom(core, p);
  const now = core.nowForCustomer(customer.id);
  const pmRef = str(p, "default_payment_method") ?? null;
  if (pmRef !== null) {
    const pm = core.state.paymentMethods.get(pmRef);
    if (!pm) throw resourceMissing("payment_method", pmRef, "default_payment_method");
    if (pm.customer !== customer.id)
      throw invalidRequest(`The customer does not have a payment method with the ID ${pmRef}. The payment method must be attached to the customer.`, "default_payment_method", "resource_missing");
  }
  const trialEnd = trialEndFrom(p, items, now);
  const discounts = resolveDiscounts(core, p, customer.id);
  const behavior = str(p, "payment_behavior");
  const missing = str(obj(obj(p, "trial_settings"), "end_behavior"), "missing_payment_method");
  const terms = collectionTerms(p, "charge_automatically");
  const customFields = customFieldsFrom(obj(p, "invoice_settings"), "custom_fields", "invoice_settings[custom_fields]");
  const cancelAt = int(p, "cancel_at") ?? null;
  if (cancelAt !== null) {
    if (bool(p, "cancel_at_period_end")) throw invalidRequest("You may only specify one of these parameters: cancel_at, cancel_at_period_end.", "cancel_at");
    if (cancelAt <= now) throw invalidRequest("Invalid timestamp: must be an integer Unix timestamp in the future.", "cancel_at");
  }
  return createSubscription(
    core,
    {
      customer,
      items,
      trialEnd,
      metadata: mergeMetadata(null, obj(p, "metadata"), false),
      defaultPaymentMethod: pmRef,
      automaticTax: bool(obj(p, "automatic_tax"), "enabled") ?? false,
      discounts,
      paymentBehavior: behavior === "default_incomplete" || behavior === "error_if_incomplete" || behavior === "pending_if_incomplete" ? behavior : "allow_incomplete",
      cancelAtPeriodEnd: bool(p, "cancel_at_period_end") ?? false,
      missingPaymentMethod: missing === "cancel" || missing === "pause" ? missing : "create_invoice",
      description: str(p, "description") ?? null,
      collectionMethod: terms.collectionMethod,
      daysUntilDue: terms.daysUntilDue,
      customFields: customFields ?? null,
      cancelAt,
    },
    ctx.request,
  );
}

/**
 * `collection_method` and `days_until_due` of a create or update, checked together: net terms
 * need a number of days, and days mean nothing to a subscription charged automatically.
 */
function collectionTerms(
  p: Params,
  current: Stripe.Subscription.CollectionMethod,
  currentDays: number | null = null,
): { collectionMethod: Stripe.Subscription.CollectionMethod; daysUntilDue: number | null } {
  const method = str(p, "collection_method") === "send_invoice" ? "send_invoice" : str(p, "collection_method") === "charge_automatically" ? "charge_automatically" : current;
  const days = int(p, "days_until_due");
  if (method === "charge_automatically") {
    if (days !== undefined) throw invalidRequest("The days_until_due parameter can only be set when collection_method is send_invoice.", "days_until_due");
    return { collectionMethod: method, daysUntilDue: null };
  }
  const effective = days ?? currentDays;
  if (effective === null) throw invalidRequest("Missing required param: days_until_due.", "days_until_due", "parameter_missing");
  return { collectionMethod: method, daysUntilDue: effective };
}

export function trialEndFrom(p: Params, items: ItemInput[], now: number): number | null {
  const te = p.trial_end;
  if (te === "now") return null;
  if (typeof te === "number") {
    if (te <= now) throw invalidRequest("Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end");
    return te;
  }
  const days = int(p, "trial_period_days") ?? (bool(p, "trial_from_plan") ? (items[0]?.price.recurring?.trial_period_days ?? undefined) : undefined);
  return days !== undefined && days > 0 ? now + days * 86_400 : null;
}

export function requireSubscription(core: Core, id: string, param = "id"): Stripe.Subscription {
  const sub = core.state.subscriptions.get(id);
  if (!sub) throw resourceMissing("subscription", id, param);
  return sub;
}

export function retrieveSubscription(ctx: Ctx): Stripe.Subscription {
  validate(ctx.raw, {});
  return requireSubscription(ctx.core, ctx.path.id ?? "");
}

export const updateFields = {
  items: s.arr(s.obj({ id: s.str(), price: s.str(), quantity: s.int({ min: 0 }), deleted: s.bool(), metadata: s.meta() })),
  proration_behavior: s.enum("create_prorations", "always_invoice", "none"),
  proration_date: s.ts(),
  cancel_at_period_end: s.bool(),
  cancel_at: s.ts({ emptyable: true }),
  cancellation_details: s.obj({ comment: s.str({ emptyable: true }), feedback: s.str({ emptyable: true }) }),
  metadata: s.meta(),
  default_payment_method: s.str({ emptyable: true }),
  pause_collection: s.obj({ behavior: s.req(s.enum("keep_as_draft", "mark_uncollectible", "void")), resumes_at: s.ts() }, { emptyable: true }),
  discounts: discountsSpec,
  coupon: s.str({ emptyable: true }),
  promotion_code: s.str(),
  trial_end: s.ts({ allowNow: true }),
  payment_behavior: s.enum("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"),
  automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
  description: s.str({ emptyable: true }),
  off_session: s.bool(),
  collection_method: s.enum("charge_automatically", "send_invoice"),
  days_until_due: s.int({ min: 0, max: 730 }),
  invoice_settings: s.obj({ custom_fields: customFieldsSpec }),
  // An object in the API version stripe-node is typed for: `billing_cycle_anchor[type]=now`.
  billing_cycle_anchor: s.obj({ type: s.req(s.enum("now", "unchanged")) }),
};

export interface PlannedChange {
  newItems: Stripe.SubscriptionItem[];
  prorations: LineInput[];
  intervalChanged: boolean;
  prorationDate: number;
}

/**
 * Works out a price/quantity change without applying it: the new items and the proration
 * lines ("Unused time on old" credit, "Remaining time on new" debit) per Stripe's formula in
 * proration.ts. Used by both subscriptions.update and invoices.createPreview.
 */
export function planItemChange(
  core: Core,
  sub: Stripe.Subscription,
  itemsParam: Params[] | undefined,
  prorationDateParam: number | undefined,
  behavior: string,
  now: number,
  paramPrefix = "items",
): PlannedChange {
  const newItems = sub.items.data.map((it) => clone(it));
  const first = sub.items.data[0];
  const periodStart = first?.current_period_start ?? now;
  const periodEnd = first?.current_period_end ?? now;
  const prorationDate = prorationDateParam ?? now;
  if (prorationDateParam !== undefined && (prorationDateParam < periodStart || prorationDateParam > periodEnd)) {
    throw invalidRequest("The proration date must be within the current billing period.", "proration_date");
  }
  const prorations: LineInput[] = [];
  const removed: Stripe.SubscriptionItem[] = [];
  const added: Stripe.SubscriptionItem[] = [];
  (itemsParam ?? []).forEach((it, i) => {
    const itemId = str(it, "id");
    const priceId = str(it, "price");
    const existing = itemId !== undefined ? newItems.find((x) => x.id === itemId) : undefined;
    if (itemId !== undefined && !existing) throw resourceMissing("subscription_item", itemId, `${paramPrefix}[${i}][id]`);
    if (existing && bool(it, "deleted")) {
      newItems.splice(newItems.indexOf(existing), 1);
      removed.push(existing);
      return;
    }
    const price = priceId !== undefined ? requirePrice(core, priceId, `${paramPrefix}[${i}][price]`) : undefined;
    if (existing) {
      const changed = (price && price.id !== existing.price.id) || (int(it, "quantity") !== undefined && int(it, "quantity") !== existing.quantity);
      if (changed) {
        removed.push(clone(existing));
        if (price) {
          existing.price = clone(price);
          existing.plan = planFromPrice(price);
        }
        existing.quantity = int(it, "quantity") ?? existing.quantity;
        added.push(existing);
      }
      if (has(it, "metadata")) existing.metadata = mergeMetadata(existing.metadata, obj(it, "metadata"), false);
    } else {
      if (!price) throw invalidRequest(`Missing required param: ${paramPrefix}[${i}][price].`, `${paramPrefix}[${i}][price]`, "parameter_missing");
      const item = subscriptionItem(sub.id, { price, quantity: int(it, "quantity") ?? 1, metadata: mergeMetadata(null, obj(it, "metadata"), false) }, periodStart, periodEnd, now);
      newItems.push(item);
      added.push(item);
    }
  });
  const oldRec = first?.price.recurring;
  const newRec = newItems[0]?.price.recurring;
  const intervalChanged = !!oldRec && !!newRec && (oldRec.interval !== newRec.interval || oldRec.interval_count !== newRec.interval_count);
  if (sub.status !== "trialing" && behavior !== "none") {
    const remaining = periodEnd - prorationDate;
    const total = periodEnd - periodStart;
    const date = new Date(prorationDate * 1000).toISOString().slice(0, 16).replace("T", " ");
    for (const it of removed) {
      const q = it.quantity ?? 1;
      const amount = -prorate((it.price.unit_amount ?? 0) * q, remaining, total);
      prorations.push({
        amount,
        description: `Unused time on ${productName(core, it.price)} after ${date}`,
        period: { start: prorationDate, end: periodEnd },
        priceId: it.price.id,
        quantity: q,
        proration: true,
        subscriptionItemId: it.id,
        invoiceItemId: null,
        subscriptionId: sub.id,
      });
    }
    if (!intervalChanged) {
      for (const it of added) {
        const q = it.quantity ?? 1;
        const amount = prorate((it.price.unit_amount ?? 0) * q, remaining, total);
        prorations.push({
          amount,
          description: `Remaining time on ${q} × ${productName(core, it.price)} after ${date}`,
          period: { start: prorationDate, end: periodEnd },
          priceId: it.price.id,
          quantity: q,
          proration: true,
          subscriptionItemId: it.id,
          invoiceItemId: null,
          subscriptionId: sub.id,
        });
      }
    }
  }
  return { newItems, prorations, intervalChanged, prorationDate };
}

export function createProrationItems(core: Core, sub: Stripe.Subscription, lines: LineInput[], now: number, request: RequestInfo | null): void {
  for (const l of lines) {
    const ii: Stripe.InvoiceItem = {
      id: newId("ii"),
      object: "invoiceitem",
      amount: l.amount,
      currency: sub.currency,
      customer: typeof sub.customer === "string" ? sub.customer : sub.customer.id,
      customer_account: null,
      date: now,
      description: l.description,
      discountable: false,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: {},
      net_amount: l.amount,
      parent: { type: "subscription_details", subscription_details: { subscription: sub.id, ...(l.subscriptionItemId ? { subscription_item: l.subscriptionItemId } : {}) } },
      period: { start: l.period.start, end: l.period.end },
      pricing: l.priceId ? { type: "price_details", price_details: { price: l.priceId, product: productOf(core, l.priceId) }, unit_amount_decimal: null } : null,
      proration: true,
      proration_details: { credited_items: null, discount_amounts: [] },
      quantity: l.quantity,
      quantity_decimal: Stripe.Decimal.from(String(l.quantity)),
      tax_rates: [],
      test_clock: sub.test_clock,
    };
    core.state.invoiceItems.set(ii.id, ii);
    core.emit({ type: "invoiceitem.created", data: { object: ii } }, now, request);
  }
}

function productOf(core: Core, priceId: string): string {
  const p = core.state.prices.get(priceId)?.product;
  return typeof p === "string" ? p : (p?.id ?? "");
}

export function updateSubscription(ctx: Ctx): Stripe.Subscription {
  const p = validate(ctx.raw, updateFields);
  const core = ctx.core;
  const sub = requireSubscription(core, ctx.path.id ?? "");
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const customer = requireCustomer(core, customerId);
  const now = core.nowForCustomer(customerId);
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalidRequest("A canceled subscription can only update its cancellation_details and metadata.", undefined, "resource_missing");
  }
  const schedule = scheduleOf(core, sub);
  if (schedule && (has(p, "cancel_at_period_end") || has(p, "cancel_at"))) {
    throw invalidRequest(
      `The subscription is managed by the subscription schedule \`${schedule.id}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`,
    );
  }
  const pmRef = str(p, "default_payment_method");
  if (pmRef !== undefined) {
    const pm = core.state.paymentMethods.get(pmRef);
    if (!pm) throw resourceMissing("payment_method", pmRef, "default_payment_method");
    if (pm.customer !== customerId)
      throw invalidRequest(`The customer does not have a payment method with the ID ${pmRef}. The payment method must be attached to the customer.`, "default_payment_method", "resource_missing");
  }
  const behavior = str(p, "proration_behavior") ?? "create_prorations";
  const plan = has(p, "items") ? planItemChange(core, sub, objs(p, "items"), int(p, "proration_date"), behavior, now) : null;
  const anchorNow = str(obj(p, "billing_cycle_anchor"), "type") === "now";
  if (anchorNow) {
    if (sub.status === "trialing") throw invalidRequest("A subscription in its trial cannot reset its billing cycle anchor; end the trial with trial_end=now instead.", "billing_cycle_anchor[type]");
    // Stripe would credit the unused rest of the period; the emulator does not compute that credit yet.
    if (behavior !== "none" && !plan?.intervalChanged)
      throw invalidRequest("The Stripe emulator supports billing_cycle_anchor=now only with proration_behavior=none (or with an interval change).", "proration_behavior");
  }
  const discounts = resolveDiscounts(core, p, customerId, sub.id);
  const terms = has(p, "collection_method") || has(p, "days_until_due") ? collectionTerms(p, sub.collection_method, sub.days_until_due) : null;
  const customFields = customFieldsFrom(obj(p, "invoice_settings"), "custom_fields", "invoice_settings[custom_fields]");
  const cancelAtParam = int(p, "cancel_at");
  if (cancelAtParam !== undefined && cancelAtParam <= now) throw invalidRequest("Invalid timestamp: must be an integer Unix timestamp in the future.", "cancel_at");
  // Everything validated: apply. With error_if_incomplete an invoice charged now for this
  // change must be paid, or the change is undone: its events are held until that is known.
  const guard = str(p, "payment_behavior") === "error_if_incomplete" ? rollbackPoint(core, sub, customer) : null;
  if (guard) core.holdEvents();
  try {
    return applyUpdate(ctx, p, sub, customer, { plan, discounts, behavior, pmRef, now, terms, customFields }, guard);
  } finally {
    // Kept unless rollBack() already dropped them.
    if (guard) core.releaseEvents(true);
  }
}

/** The validated update of subscriptions.update, applied to `sub`. */
function applyUpdate(
  ctx: Ctx,
  p: Params,
  sub: Stripe.Subscription,
  customer: Stripe.Customer,
  {
    plan,
    discounts,
    behavior,
    pmRef,
    now,
    terms,
    customFields,
  }: {
    plan: PlannedChange | null;
    discounts: DiscountRef[];
    behavior: string;
    pmRef: string | undefined;
    now: number;
    terms: { collectionMethod: Stripe.Subscription.CollectionMethod; daysUntilDue: number | null } | null;
    customFields: Stripe.Invoice.CustomField[] | null | undefined;
  },
  guard: RollbackPoint | null,
): Stripe.Subscription {
  const core = ctx.core;
  const customerId = customer.id;
  const before = clone(sub);
  if (terms) {
    sub.collection_method = terms.collectionMethod;
    sub.days_until_due = terms.daysUntilDue;
  }
  if (customFields !== undefined) sub.invoice_settings.custom_fields = customFields;
  if (has(p, "metadata")) sub.metadata = mergeMetadata(sub.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "default_payment_method")) sub.default_payment_method = pmRef ?? null;
  if (has(p, "description")) sub.description = str(p, "description") ?? null;
  if (has(p, "automatic_tax")) {
    const enabled = bool(obj(p, "automatic_tax"), "enabled") ?? false;
    sub.automatic_tax = { disabled_reason: null, enabled, liability: enabled ? { type: "self" } : null };
  }
  const periodEnd = sub.items.data[0]?.current_period_end ?? now;
  if (has(p, "cancel_at_period_end")) {
    const cape = bool(p, "cancel_at_period_end") ?? false;
    sub.cancel_at_period_end = cape;
    sub.cancel_at = cape ? periodEnd : null;
    sub.canceled_at = cape ? now : null;
    sub.cancellation_details = {
      comment: sub.cancellation_details?.comment ?? null,
      feedback: sub.cancellation_details?.feedback ?? null,
      feedback_option: null,
      reason: cape ? "cancellation_requested" : null,
    };
  }
  if (has(p, "cancel_at")) {
    const at = int(p, "cancel_at") ?? null;
    sub.cancel_at = at;
    sub.cancel_at_period_end = at !== null && at === periodEnd;
    sub.canceled_at = at !== null ? now : null;
  }
  const details = obj(p, "cancellation_details");
  if (details && sub.cancellation_details) {
    const fb = str(details, "feedback");
    sub.cancellation_details.comment = str(details, "comment") ?? null;
    sub.cancellation_details.feedback =
      fb === "customer_service" || fb === "low_quality" || fb === "missing_features" || fb === "other" || fb === "switched_service" || fb === "too_complex" || fb === "too_expensive" || fb === "unused"
        ? fb
        : null;
  }
  if (has(p, "pause_collection")) {
    const pc = obj(p, "pause_collection");
    const b = str(pc, "behavior");
    sub.pause_collection = pc && (b === "keep_as_draft" || b === "mark_uncollectible" || b === "void") ? { behavior: b, resumes_at: int(pc, "resumes_at") ?? null } : null;
  }
  if (has(p, "coupon") || has(p, "discounts") || has(p, "promotion_code")) {
    sub.discounts = redeemDiscounts(core, discounts, customerId, sub.id, now);
  }
  if (p.trial_end === "now" && sub.status === "trialing") {
    sub.trial_end = now;
    for (const it of sub.items.data) it.current_period_end = now;
  } else if (typeof p.trial_end === "number") {
    sub.trial_end = p.trial_end;
    sub.status = "trialing";
    sub.trial_start = sub.trial_start ?? now;
    for (const it of sub.items.data) it.current_period_end = p.trial_end;
    const meta = core.state.subscriptionMeta.get(sub.id);
    if (meta) meta.trialWillEndSent = false;
  }
  let invoiceNow: LineInput[] | null = null;
  if (str(obj(p, "billing_cycle_anchor"), "type") === "now" && !plan?.intervalChanged) {
    // A new full period starts now and is billed at once; the rest of the old one is not credited (proration_behavior=none).
    if (plan) sub.items.data = plan.newItems;
    const end = restartCycle(sub, now);
    if (end !== null) invoiceNow = sub.items.data.map((it) => itemLine(core, sub, it, now, end, false));
  } else if (plan) {
    sub.items.data = plan.newItems;
    if (plan.intervalChanged && sub.status !== "trialing") {
      // An interval change restarts the billing cycle now and bills the new price at once.
      const end = restartCycle(sub, now);
      if (end !== null) invoiceNow = [...plan.prorations, ...sub.items.data.map((it) => itemLine(core, sub, it, now, end, false))];
    } else if (behavior === "always_invoice" && plan.prorations.length > 0) {
      invoiceNow = plan.prorations;
    } else if (behavior === "create_prorations" && plan.prorations.length > 0) {
      createProrationItems(core, sub, plan.prorations, now, ctx.request);
    }
  }
  if (invoiceNow) {
    createProrationItems(
      core,
      sub,
      invoiceNow.filter((l) => l.proration),
      now,
      ctx.request,
    );
    const lines = [...invoiceNow.filter((l) => !l.proration), ...pendingItemLines(core, sub)];
    const inv = buildInvoice(
      core,
      {
        customer,
        subscription: sub,
        billingReason: "subscription_update",
        periodStart: now,
        periodEnd: now,
        lines,
        now,
        automaticTax: sub.automatic_tax.enabled,
        discountIds: [],
        prorationDate: plan?.prorationDate,
      },
      false,
    );
    sub.latest_invoice = inv.id;
    core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, now, ctx.request);
    emitInvoiceCreated(core, inv, now, ctx.request);
    finalizeInvoice(core, inv, now, ctx.request);
    const outcome = inv.status === "open" && chargesAutomatically(inv) ? attemptInvoicePayment(core, inv, now, ctx.request) : null;
    if (guard && outcome && !outcome.paid) throw rollBack(core, guard, sub, customer, inv, outcome, now, ctx.request);
    return sub;
  }
  const changes = diff(before, sub);
  if (Object.keys(changes).length > 0) core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: changes } }, now, ctx.request);
  return sub;
}

/**
 * What an update with `payment_behavior=error_if_incomplete` puts back when the invoice it
 * charges now is declined: the subscription as it was (items, periods, discounts, status,
 * latest_invoice), its schedule, the customer's balance, discounts redeemed by the update and
 * the pending invoice items the invoice swept up.
 */
interface RollbackPoint {
  sub: Stripe.Subscription;
  schedule: Stripe.SubscriptionSchedule | null;
  meta: SubscriptionMeta | null;
  balance: number;
  discountIds: Set<string>;
  pendingItemIds: string[];
}

function rollbackPoint(core: Core, sub: Stripe.Subscription, customer: Stripe.Customer): RollbackPoint {
  const schedule = scheduleOf(core, sub);
  const meta = core.state.subscriptionMeta.get(sub.id);
  return {
    sub: clone(sub),
    schedule: schedule ? clone(schedule) : null,
    meta: meta ? clone(meta) : null,
    balance: customer.balance,
    discountIds: new Set(core.state.discounts.keys()),
    pendingItemIds: pendingItemLines(core, sub).flatMap((l) => (l.invoiceItemId !== null ? [l.invoiceItemId] : [])),
  };
}

/**
 * Undoes a declined error_if_incomplete update, as Stripe does: the subscription stays as it
 * was, the invoice made for the change is voided (`invoice.voided` is the only event left of
 * the attempt), and the answer is the 402 card_error of the declined payment.
 */
function rollBack(
  core: Core,
  r: RollbackPoint,
  sub: Stripe.Subscription,
  customer: Stripe.Customer,
  inv: Stripe.Invoice,
  outcome: PayOutcome,
  now: number,
  request: RequestInfo | null,
): StripeApiError {
  core.releaseEvents(false);
  Object.assign(sub, clone(r.sub));
  if (r.schedule) core.state.subscriptionSchedules.set(r.schedule.id, clone(r.schedule));
  if (r.meta) core.state.subscriptionMeta.set(sub.id, clone(r.meta));
  customer.balance = r.balance;
  for (const [id, d] of [...core.state.discounts.entries()]) {
    if (r.discountIds.has(id)) continue;
    const coupon = core.state.coupons.get(typeof d.source.coupon === "string" ? d.source.coupon : (d.source.coupon?.id ?? ""));
    if (coupon) coupon.times_redeemed = Math.max(0, coupon.times_redeemed - 1);
    const promo = d.promotion_code ? core.state.promotionCodes.get(typeof d.promotion_code === "string" ? d.promotion_code : d.promotion_code.id) : undefined;
    if (promo) promo.times_redeemed = Math.max(0, promo.times_redeemed - 1);
    core.state.discounts.delete(id);
  }
  for (const id of r.pendingItemIds) {
    const ii = core.state.invoiceItems.get(id);
    if (ii && ii.invoice === inv.id) ii.invoice = null;
  }
  voidInvoice(core, inv, now, request);
  const decline = outcome.decline ?? { code: "card_declined", message: "Your card was declined." };
  const pi = outcome.paymentIntent;
  if (pi === null) return invalidRequest("This customer has no attached payment source or default payment method.", undefined, "resource_missing");
  const pmId = typeof pi.payment_method === "string" ? pi.payment_method : (pi.payment_method?.id ?? null);
  const pm = pmId ? core.state.paymentMethods.get(pmId) : undefined;
  return cardError(decline, { charge: typeof pi.latest_charge === "string" ? pi.latest_charge : undefined, payment_intent: clone(pi), payment_method: pm ? clone(pm) : undefined });
}

export function cancelSubscriptionRoute(ctx: Ctx): Stripe.Subscription {
  const p = validate(ctx.raw, { invoice_now: s.bool(), prorate: s.bool(), cancellation_details: s.obj({ comment: s.str({ emptyable: true }), feedback: s.str({ emptyable: true }) }) });
  const sub = requireSubscription(ctx.core, ctx.path.id ?? "");
  if (sub.status === "canceled") throw invalidRequest(`No such subscription: '${sub.id}'`, "id", "resource_missing", 404);
  const now = ctx.core.nowForCustomer(typeof sub.customer === "string" ? sub.customer : sub.customer.id);
  const fb = str(obj(p, "cancellation_details"), "feedback");
  cancelSubscriptionNow(ctx.core, sub, now, ctx.request, {
    reason: "cancellation_requested",
    comment: str(obj(p, "cancellation_details"), "comment") ?? null,
    feedback:
      fb === "customer_service" || fb === "low_quality" || fb === "missing_features" || fb === "other" || fb === "switched_service" || fb === "too_complex" || fb === "too_expensive" || fb === "unused"
        ? fb
        : null,
  });
  return sub;
}

/** `POST /v1/subscriptions/:id/resume`: a paused subscription starts a new period now. */
export function resumeSubscription(ctx: Ctx): Stripe.Subscription {
  validate(ctx.raw, { billing_cycle_anchor: s.enum("now", "unchanged"), proration_behavior: s.enum("create_prorations", "always_invoice", "none"), proration_date: s.ts() });
  const core = ctx.core;
  const sub = requireSubscription(core, ctx.path.id ?? "");
  if (sub.status !== "paused") throw invalidRequest("Subscription is not paused, so it cannot be resumed.", undefined, "subscription_not_paused");
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const customer = requireCustomer(core, customerId);
  const now = core.nowForCustomer(customerId);
  const before = clone(sub);
  const end = restartCycle(sub, now);
  if (end === null) return sub;
  sub.status = "active";
  const inv = buildInvoice(
    core,
    {
      customer,
      subscription: sub,
      billingReason: "subscription_cycle",
      periodStart: now,
      periodEnd: now,
      lines: sub.items.data.map((it) => itemLine(core, sub, it, now, end, false)),
      now,
      automaticTax: sub.automatic_tax.enabled,
      discountIds: [],
    },
    false,
  );
  sub.latest_invoice = inv.id;
  core.emit({ type: "customer.subscription.resumed", data: { object: sub } }, now, ctx.request);
  core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, now, ctx.request);
  emitInvoiceCreated(core, inv, now, ctx.request);
  finalizeInvoice(core, inv, now, ctx.request);
  if (inv.status === "open" && chargesAutomatically(inv)) attemptInvoicePayment(core, inv, now, ctx.request);
  return sub;
}

export function listSubscriptions(ctx: Ctx): Stripe.ApiList<Stripe.Subscription> {
  const p = validate(ctx.raw, {
    ...listFields,
    customer: s.str(),
    price: s.str(),
    status: s.enum("active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid"),
    test_clock: s.str(),
    collection_method: s.str(),
    current_period_end: s.range(),
    current_period_start: s.range(),
  });
  const customer = str(p, "customer");
  const price = str(p, "price");
  const status = str(p, "status");
  const clock = str(p, "test_clock");
  const all = [...ctx.core.state.subscriptions.values()].reverse().filter((sub) => {
    if (customer !== undefined && sub.customer !== customer) return false;
    if (clock !== undefined && sub.test_clock !== clock) return false;
    if (price !== undefined && !sub.items.data.some((i) => i.price.id === price)) return false;
    if (status === undefined) {
      // Stripe's default excludes canceled (and expired) subscriptions.
      if (sub.status === "canceled" || sub.status === "incomplete_expired") return false;
    } else if (status === "ended") {
      if (sub.status !== "canceled" && sub.status !== "incomplete_expired") return false;
    } else if (status !== "all" && sub.status !== status) return false;
    return matchesRange(sub.created, p, "created");
  });
  return paginate(all, p, "/v1/subscriptions");
}

export function listSubscriptionItems(ctx: Ctx): Stripe.ApiList<Stripe.SubscriptionItem> {
  const p = validate(ctx.raw, { ...listFields, subscription: s.req(s.str()) });
  const sub = requireSubscription(ctx.core, str(p, "subscription") ?? "", "subscription");
  return paginate(sub.items.data, p, `/v1/subscription_items`);
}

export function deleteSubscriptionDiscount(ctx: Ctx): Stripe.DeletedDiscount {
  validate(ctx.raw, {});
  const sub = requireSubscription(ctx.core, ctx.path.id ?? "");
  const ref = sub.discounts[0];
  const d = ref ? ctx.core.state.discounts.get(typeof ref === "string" ? ref : ref.id) : undefined;
  if (!d) throw invalidRequest("This subscription has no discount.", undefined, "resource_missing", 404);
  const before = clone(sub);
  sub.discounts = [];
  const now = ctx.core.nowForCustomer(typeof sub.customer === "string" ? sub.customer : sub.customer.id);
  ctx.core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, now, ctx.request);
  return {
    id: d.id,
    object: "discount",
    checkout_session: null,
    customer: d.customer,
    customer_account: null,
    deleted: true,
    invoice: null,
    invoice_item: null,
    promotion_code: d.promotion_code,
    source: d.source,
    start: d.start,
    subscription: d.subscription,
    subscription_item: null,
  };
}

export { money };
