import type Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import { cardError, invalidRequest } from "../errors.ts";
import { newId } from "../ids.ts";
import { declineFor } from "../resources/payment-methods.ts";
import { clone, type InvoiceMeta } from "../store.ts";
import { attemptInvoicePayment, buildInvoice, chargesAutomatically, emitInvoiceCreated, emitInvoiceOverdue, finalizeInvoice, voidInvoice, type LineInput } from "./invoices.ts";
import { DAY_SECONDS, nextBoundary } from "./periods.ts";
import { prorate } from "../proration.ts";
import { cancelAttachedSchedule, scheduleAction, scheduleStepAtRenewal } from "./schedules.ts";

export interface ItemInput {
  price: Stripe.Price;
  quantity: number;
  metadata: Record<string, string>;
}

export interface NewSubscriptionInput {
  customer: Stripe.Customer;
  items: ItemInput[];
  trialEnd: number | null;
  metadata: Record<string, string>;
  defaultPaymentMethod: string | null;
  automaticTax: boolean;
  /** The subscription's discounts: existing ones to keep, coupons/promotion codes to redeem. */
  discounts: DiscountRef[];
  paymentBehavior: "allow_incomplete" | "default_incomplete" | "error_if_incomplete" | "pending_if_incomplete";
  cancelAtPeriodEnd: boolean;
  missingPaymentMethod: "cancel" | "create_invoice" | "pause";
  description: string | null;
  /** The subscription schedule that creates this subscription (subscription_schedules.create with phases). */
  scheduleId?: string;
  /** send_invoice: invoices are sent with `daysUntilDue` days to pay, never charged automatically. */
  collectionMethod?: Stripe.Subscription.CollectionMethod;
  daysUntilDue?: number | null;
  /** `invoice_settings[custom_fields]`: shown on every invoice of the subscription. */
  customFields?: Stripe.Invoice.CustomField[] | null;
  /** When the subscription ends (no renewal after it); null = renews until canceled. */
  cancelAt?: number | null;
}

export function planFromPrice(price: Stripe.Price): Stripe.Plan {
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: price.recurring?.interval ?? "month",
    interval_count: price.recurring?.interval_count ?? 1,
    livemode: false,
    metadata: clone(price.metadata),
    meter: null,
    nickname: price.nickname,
    product: typeof price.product === "string" ? price.product : price.product.id,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: price.recurring?.trial_period_days ?? null,
    usage_type: "licensed",
  };
}

export function subscriptionItem(subId: string, input: ItemInput, start: number, end: number, now: number): Stripe.SubscriptionItem {
  return {
    id: newId("si"),
    object: "subscription_item",
    billing_thresholds: null,
    created: now,
    current_period_end: end,
    current_period_start: start,
    current_trial: null,
    discounts: [],
    metadata: input.metadata,
    plan: planFromPrice(input.price),
    price: clone(input.price),
    quantity: input.quantity,
    subscription: subId,
    tax_rates: [],
  };
}

export function productName(core: Core, price: Stripe.Price): string {
  const id = typeof price.product === "string" ? price.product : price.product.id;
  return core.state.products.get(id)?.name ?? id;
}

export function money(amount: number, currency: string): string {
  const sign = amount < 0 ? "-" : "";
  const a = Math.abs(amount);
  return `${sign}${currency === "usd" ? "$" : currency.toUpperCase() + " "}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}

export function itemLine(core: Core, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, start: number, end: number, trial: boolean): LineInput {
  const quantity = item.quantity ?? 1;
  const unit = item.price.unit_amount ?? 0;
  const name = productName(core, item.price);
  const interval = item.price.recurring?.interval ?? "month";
  return {
    amount: trial ? 0 : unit * quantity,
    description: trial ? `Trial period for ${name}` : `${quantity} × ${name} (at ${money(unit, item.price.currency)} / ${interval})`,
    period: { start, end },
    priceId: item.price.id,
    quantity,
    proration: false,
    subscriptionItemId: item.id,
    invoiceItemId: null,
    subscriptionId: sub.id,
  };
}

/** Pending invoice items (e.g. prorations) for this subscription, swept into its next invoice. */
export function pendingItemLines(core: Core, sub: Stripe.Subscription): LineInput[] {
  const out: LineInput[] = [];
  for (const ii of core.state.invoiceItems.values()) {
    if (ii.invoice !== null || ii.customer !== sub.customer) continue;
    const parentSub = ii.parent?.subscription_details?.subscription ?? null;
    if (parentSub !== null && parentSub !== sub.id) continue;
    const priceRef = ii.pricing?.price_details?.price;
    out.push({
      amount: ii.amount,
      description: ii.description ?? "",
      period: { start: ii.period.start, end: ii.period.end },
      priceId: typeof priceRef === "string" ? priceRef : (priceRef?.id ?? null),
      quantity: ii.quantity,
      proration: ii.proration,
      subscriptionItemId: ii.parent?.subscription_details?.subscription_item ?? null,
      invoiceItemId: ii.id,
      subscriptionId: parentSub,
    });
  }
  return out;
}

export function paymentMethodFor(core: Core, sub: Stripe.Subscription): string | null {
  const own = sub.default_payment_method;
  if (own) return typeof own === "string" ? own : own.id;
  const customer = core.state.customers.get(typeof sub.customer === "string" ? sub.customer : sub.customer.id);
  const pm = customer?.invoice_settings.default_payment_method;
  return pm ? (typeof pm === "string" ? pm : pm.id) : null;
}

/**
 * One entry of a `discounts[]` parameter, resolved: reuse an existing discount (same object, same
 * start and end), or redeem a coupon (directly or through a promotion code) into a new one.
 */
export type DiscountRef = { discount: string } | { coupon: string; promotionCode: string | null };

/** A discount object for `couponId`, not stored and not counted as a redemption (previews). */
export function buildDiscount(core: Core, couponId: string, customerId: string, subId: string | null, promotionCodeId: string | null, now: number): Stripe.Discount {
  const coupon = core.state.coupons.get(couponId);
  const months = coupon?.duration === "repeating" ? (coupon.duration_in_months ?? 0) : 0;
  return {
    id: newId("di"),
    object: "discount",
    checkout_session: null,
    customer: customerId,
    customer_account: null,
    end: coupon?.duration === "repeating" ? addMonths(now, months) : null,
    invoice: null,
    invoice_item: null,
    promotion_code: promotionCodeId,
    source: { coupon: couponId, type: "coupon" },
    start: now,
    subscription: subId,
    subscription_item: null,
  };
}

export function createDiscount(core: Core, couponId: string, customerId: string, subId: string | null, promotionCodeId: string | null, now: number): Stripe.Discount {
  const discount = buildDiscount(core, couponId, customerId, subId, promotionCodeId, now);
  const coupon = core.state.coupons.get(couponId);
  if (coupon) coupon.times_redeemed += 1;
  if (promotionCodeId) {
    const promo = core.state.promotionCodes.get(promotionCodeId);
    if (promo) promo.times_redeemed += 1;
  }
  core.state.discounts.set(discount.id, discount);
  return discount;
}

/**
 * The discount ids a subscription gets from resolved `discounts[]` entries, in order: an existing
 * discount is kept as it is; a coupon or promotion code is redeemed into a new discount.
 */
export function redeemDiscounts(core: Core, refs: DiscountRef[], customerId: string, subId: string, now: number): string[] {
  return refs.map((r) => ("discount" in r ? r.discount : createDiscount(core, r.coupon, customerId, subId, r.promotionCode, now).id));
}

function addMonths(t: number, months: number): number {
  const d = new Date(t * 1000);
  d.setUTCMonth(d.getUTCMonth() + months);
  return Math.floor(d.getTime() / 1000);
}

/**
 * Creates a subscription the way Stripe's API does: with a trial, a $0 first invoice paid at
 * once and status `trialing`; without, a first invoice charged now, `incomplete` until it is
 * paid (or a 402 and nothing created with error_if_incomplete).
 */
export function createSubscription(core: Core, input: NewSubscriptionInput, request: RequestInfo | null): Stripe.Subscription {
  const now = core.nowForCustomer(input.customer.id);
  const first = input.items[0];
  if (!first) throw invalidRequest("Missing required param: items.", "items", "parameter_missing");
  const rec = first.price.recurring;
  if (!rec) throw invalidRequest("The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.", "items[0][price]");
  for (const [i, it] of input.items.entries()) {
    if (it.price.recurring?.interval !== rec.interval || it.price.recurring.interval_count !== rec.interval_count) {
      throw invalidRequest("Currency and interval fields must match across all plans on this subscription.", `items[${i}][price]`);
    }
  }
  const pm = input.defaultPaymentMethod ?? (typeof input.customer.invoice_settings.default_payment_method === "string" ? input.customer.invoice_settings.default_payment_method : null);
  const trial = input.trialEnd !== null && input.trialEnd > now;
  const sendInvoice = input.collectionMethod === "send_invoice";
  if (!trial && !sendInvoice && input.paymentBehavior === "error_if_incomplete") {
    const decline = pm ? declineFor(core, pm, now) : { code: "resource_missing", message: "This customer has no attached payment source or default payment method." };
    if (decline) {
      if (!pm) throw invalidRequest(decline.message, undefined, "resource_missing");
      throw cardError(decline);
    }
  }
  const id = newId("sub");
  const anchor = trial && input.trialEnd !== null ? input.trialEnd : now;
  const periodEnd = trial && input.trialEnd !== null ? input.trialEnd : nextBoundary(anchor, rec.interval, rec.interval_count, now);
  const sub: Stripe.Subscription = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: input.automaticTax, liability: input.automaticTax ? { type: "self" } : null },
    billing_cycle_anchor: anchor,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: input.cancelAtPeriodEnd ? periodEnd : (input.cancelAt ?? null),
    cancel_at_period_end: input.cancelAtPeriodEnd || input.cancelAt === periodEnd,
    canceled_at: input.cancelAtPeriodEnd || (input.cancelAt ?? null) !== null ? now : null,
    cancellation_details: {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: input.cancelAtPeriodEnd || (input.cancelAt ?? null) !== null ? "cancellation_requested" : null,
    },
    collection_method: sendInvoice ? "send_invoice" : "charge_automatically",
    created: now,
    currency: first.price.currency,
    customer: input.customer.id,
    customer_account: null,
    days_until_due: sendInvoice ? (input.daysUntilDue ?? null) : null,
    default_payment_method: input.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: input.description,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: input.customFields ?? null, description: null, footer: null, issuer: { type: "self" } },
    items: { object: "list", data: [], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: "off" },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: input.scheduleId ?? null,
    start_date: now,
    // A send_invoice subscription is active at once: its first invoice is sent, not charged.
    status: trial ? "trialing" : sendInvoice ? "active" : "incomplete",
    test_clock: typeof input.customer.test_clock === "string" ? input.customer.test_clock : null,
    transfer_data: null,
    trial_end: trial ? input.trialEnd : null,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: input.missingPaymentMethod } },
    trial_start: trial ? now : null,
  };
  sub.items.data = input.items.map((it) => subscriptionItem(id, it, now, periodEnd, now));
  sub.discounts = redeemDiscounts(core, input.discounts, input.customer.id, id, now);
  core.state.subscriptions.set(id, sub);
  core.state.subscriptionMeta.set(id, { trialWillEndSent: false });
  const lines = [...sub.items.data.map((it) => finalPeriodLine(itemLine(core, sub, it, now, periodEnd, trial), sub.cancel_at)), ...pendingItemLines(core, sub)];
  const inv = buildInvoice(
    core,
    {
      customer: input.customer,
      subscription: sub,
      billingReason: "subscription_create",
      periodStart: now,
      periodEnd: now,
      lines,
      now,
      automaticTax: input.automaticTax,
      discountIds: sub.discounts.map((d) => (typeof d === "string" ? d : d.id)),
    },
    false,
  );
  sub.latest_invoice = inv.id;
  core.emit({ type: "customer.subscription.created", data: { object: sub } }, now, request);
  emitInvoiceCreated(core, inv, now, request);
  finalizeInvoice(core, inv, now, request);
  if (inv.status === "open" && chargesAutomatically(inv)) {
    if (input.paymentBehavior === "default_incomplete") inv.next_payment_attempt = null;
    else attemptInvoicePayment(core, inv, now, request);
  }
  return sub;
}

/** Moves the subscription's status after one of its invoices was paid or failed. */
export function afterInvoicePayment(core: Core, inv: Stripe.Invoice, ok: boolean, now: number, request: RequestInfo | null): void {
  const subRef = inv.parent?.subscription_details?.subscription;
  const sub = typeof subRef === "string" ? core.state.subscriptions.get(subRef) : undefined;
  if (!sub) return;
  const before = clone(sub);
  if (ok) {
    if ((sub.status === "incomplete" || sub.status === "past_due" || sub.status === "unpaid") && sub.latest_invoice === inv.id) sub.status = "active";
  } else if (inv.billing_reason !== "subscription_create" && (sub.status === "active" || sub.status === "trialing")) {
    sub.status = "past_due";
  }
  const meta = core.state.invoiceMeta.get(inv.id);
  const retries = core.smartRetriesFor(sub.test_clock);
  if (!ok && retries && meta?.retryIndex === -1 && sub.status === "past_due") {
    if (retries.afterLastRetry === "cancel") {
      if (diff(before, sub).status !== undefined) core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, now, request);
      cancelSubscriptionNow(core, sub, now, request, { reason: "payment_failed" });
      return;
    }
    if (retries.afterLastRetry === "unpaid") sub.status = "unpaid";
  }
  const changes = diff(before, sub);
  if (Object.keys(changes).length > 0) core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: changes } }, now, request);
}

export function cancelSubscriptionNow(
  core: Core,
  sub: Stripe.Subscription,
  now: number,
  request: RequestInfo | null,
  details: { reason: Stripe.Subscription.CancellationDetails.Reason; comment?: string | null; feedback?: Stripe.Subscription.CancellationDetails.Feedback | null },
): void {
  sub.status = "canceled";
  sub.canceled_at = sub.canceled_at ?? now;
  sub.ended_at = now;
  sub.cancel_at = sub.cancel_at ?? null;
  sub.cancellation_details = {
    comment: details.comment ?? sub.cancellation_details?.comment ?? null,
    feedback: details.feedback ?? sub.cancellation_details?.feedback ?? null,
    feedback_option: null,
    reason: details.reason,
  };
  core.emit({ type: "customer.subscription.deleted", data: { object: sub } }, now, request);
  stopAutomaticCollection(core, sub, now, request);
  cancelAttachedSchedule(core, sub, now, request);
}

/**
 * As on Stripe, canceling a subscription stops automatic collection of its finalized invoices
 * ("to prevent unexpected payment attempts after the customer has canceled"): an open invoice
 * keeps its status but gets `auto_advance: false` and no `next_payment_attempt`.
 */
function stopAutomaticCollection(core: Core, sub: Stripe.Subscription, now: number, request: RequestInfo | null): void {
  for (const id of [...core.pendingInvoices]) {
    const inv = core.state.invoices.get(id);
    if (!inv || inv.status !== "open" || inv.parent?.subscription_details?.subscription !== sub.id) continue;
    if (!inv.auto_advance && inv.next_payment_attempt === null) continue;
    const before = clone(inv);
    inv.auto_advance = false;
    inv.next_payment_attempt = null;
    core.emit({ type: "invoice.updated", data: { object: inv, previous_attributes: diff(before, inv) } }, now, request);
  }
}

export interface DueAction {
  at: number;
  run: () => void;
}

/** The earliest thing this subscription has to do by itself (trial reminder, renewal, ...). */
export function nextSubscriptionAction(core: Core, sub: Stripe.Subscription): DueAction | null {
  const item = sub.items.data[0];
  if (!item) return null;
  const status = sub.status;
  if (status === "canceled" || status === "incomplete_expired") return null;
  const actions: DueAction[] = [];
  const meta = core.state.subscriptionMeta.get(sub.id) ?? { trialWillEndSent: false };
  if (status === "incomplete") {
    actions.push({ at: sub.created + 23 * 3600, run: () => expireIncomplete(core, sub, sub.created + 23 * 3600) });
  }
  // A schedule's phase boundary inside a period (or while the subscription does not renew) is
  // its own action, listed before cancellation and renewal so that it wins a tie; a boundary at
  // the period end is applied by renew() itself, before the renewal invoice is built.
  const renews = status !== "incomplete" && status !== "paused";
  const phaseEnd = scheduleAction(core, sub, renews ? item.current_period_end : null);
  if (phaseEnd) actions.push(phaseEnd);
  if (renews) {
    if (status === "trialing" && sub.trial_end !== null && !meta.trialWillEndSent) {
      const at = Math.max(sub.trial_end - 3 * DAY_SECONDS, sub.created);
      actions.push({
        at,
        run: () => {
          meta.trialWillEndSent = true;
          core.state.subscriptionMeta.set(sub.id, meta);
          core.emit({ type: "customer.subscription.trial_will_end", data: { object: sub } }, at, null);
        },
      });
    }
    if (sub.cancel_at !== null && sub.cancel_at < item.current_period_end) {
      const at = sub.cancel_at;
      actions.push({ at, run: () => cancelSubscriptionNow(core, sub, at, null, { reason: "cancellation_requested" }) });
    }
    const end = item.current_period_end;
    actions.push({ at: end, run: () => renew(core, sub, end) });
  }
  const resumesAt = sub.pause_collection?.resumes_at;
  if (resumesAt !== undefined && resumesAt !== null) {
    actions.push({
      at: resumesAt,
      run: () => {
        const before = clone(sub);
        sub.pause_collection = null;
        core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, resumesAt, null);
      },
    });
  }
  actions.sort((a, b) => a.at - b.at);
  return actions[0] ?? null;
}

function expireIncomplete(core: Core, sub: Stripe.Subscription, at: number): void {
  const before = clone(sub);
  const invId = typeof sub.latest_invoice === "string" ? sub.latest_invoice : null;
  const inv = invId ? core.state.invoices.get(invId) : undefined;
  if (inv && inv.status === "open") voidInvoice(core, inv, at, null);
  sub.status = "incomplete_expired";
  sub.ended_at = at;
  core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, at, null);
}

/**
 * Period end: cancel if asked to, end the trial, or start the next period with a new invoice
 * (draft; it finalizes and is charged `finalizeDelay` seconds later, like Stripe's ~1 hour).
 */
function renew(core: Core, sub: Stripe.Subscription, at: number): void {
  const before = clone(sub);
  // A schedule phase ending now changes the items first, so the renewal bills the new phase.
  const afterSchedule = scheduleStepAtRenewal(core, sub, at) ?? (() => undefined);
  if (sub.status === "canceled") return;
  if (sub.cancel_at !== null && sub.cancel_at <= at) {
    cancelSubscriptionNow(core, sub, at, null, { reason: "cancellation_requested" });
    afterSchedule();
    return;
  }
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const customer = core.state.customers.get(customerId);
  if (!customer) return;
  const wasTrialing = sub.status === "trialing";
  if (wasTrialing && paymentMethodFor(core, sub) === null) {
    const behavior = sub.trial_settings?.end_behavior.missing_payment_method ?? "create_invoice";
    if (behavior === "cancel") {
      cancelSubscriptionNow(core, sub, at, null, { reason: "cancellation_requested" });
      afterSchedule();
      return;
    }
    if (behavior === "pause") {
      sub.status = "paused";
      core.emit({ type: "customer.subscription.paused", data: { object: sub } }, at, null);
      core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, at, null);
      afterSchedule();
      return;
    }
  }
  const first = sub.items.data[0];
  const rec = first?.price.recurring;
  if (!first || !rec) return;
  const newEnd = nextBoundary(sub.billing_cycle_anchor, rec.interval, rec.interval_count, at);
  for (const item of sub.items.data) {
    item.current_period_start = at;
    item.current_period_end = newEnd;
  }
  if (wasTrialing) sub.status = "active";
  expireDiscounts(core, sub, at);
  const lines = [...sub.items.data.map((it) => finalPeriodLine(itemLine(core, sub, it, at, newEnd, false), sub.cancel_at)), ...pendingItemLines(core, sub)];
  const inv = buildInvoice(
    core,
    {
      customer,
      subscription: sub,
      billingReason: "subscription_cycle",
      periodStart: before.items.data[0]?.current_period_start ?? at,
      periodEnd: at,
      lines,
      now: at,
      automaticTax: sub.automatic_tax.enabled,
      discountIds: sub.discounts.map((d) => (typeof d === "string" ? d : d.id)),
    },
    false,
  );
  sub.latest_invoice = inv.id;
  core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, at, null);
  afterSchedule();
  emitInvoiceCreated(core, inv, at, null);
  const meta = core.state.invoiceMeta.get(inv.id);
  const pause = sub.pause_collection;
  if (pause) {
    if (pause.behavior === "keep_as_draft") {
      inv.auto_advance = false;
    } else {
      finalizeInvoice(core, inv, at, null);
      inv.next_payment_attempt = null;
      if (inv.status === "open") {
        if (pause.behavior === "void") voidInvoice(core, inv, at, null);
        else {
          inv.status = "uncollectible";
          inv.status_transitions.marked_uncollectible_at = at;
          core.pendingInvoices.delete(inv.id);
          core.emit({ type: "invoice.marked_uncollectible", data: { object: inv } }, at, null);
        }
      }
    }
  } else if (sub.status === "unpaid") {
    inv.auto_advance = false;
  } else if (meta) {
    meta.finalizeAt = at + core.finalizeDelay;
  }
}

/**
 * A period the subscription does not live to the end of (`cancel_at` inside it) is billed only
 * up to `cancel_at`: Stripe "will always cause a proration for that period". The line is the
 * prorated share of the full period, with the same rounding as every other proration.
 */
export function finalPeriodLine(line: LineInput, cancelAt: number | null): LineInput {
  const { start, end } = line.period;
  if (cancelAt === null || cancelAt <= start || cancelAt >= end || line.amount === 0) return line;
  return { ...line, amount: prorate(line.amount, cancelAt - start, end - start), period: { start, end: cancelAt } };
}

/** Drops discounts whose coupon duration has run out ("once" after its first invoice). */
function expireDiscounts(core: Core, sub: Stripe.Subscription, at: number): void {
  sub.discounts = sub.discounts.filter((ref) => {
    const d = core.state.discounts.get(typeof ref === "string" ? ref : ref.id);
    if (!d) return false;
    const couponRef = d.source.coupon;
    const coupon = typeof couponRef === "string" ? core.state.coupons.get(couponRef) : couponRef;
    // A "once" discount has served its invoice, unless it was redeemed just now (a schedule
    // phase starting at this renewal): then this renewal is its invoice.
    if (coupon?.duration === "once" && d.start < at) return false;
    if (d.end !== null && d.end <= at) return false;
    return true;
  });
}

/**
 * The due date of an unpaid send_invoice invoice passed: `invoice.overdue`, once, and its
 * subscription "becomes past_due when its invoice is not paid by the due date" (Stripe's
 * subscription status reference). Paying it later makes the subscription active again.
 */
function invoiceOverdue(core: Core, inv: Stripe.Invoice, meta: InvoiceMeta, at: number): void {
  meta.overdueSent = true;
  emitInvoiceOverdue(core, inv, at);
  const subRef = inv.parent?.subscription_details?.subscription;
  const sub = typeof subRef === "string" ? core.state.subscriptions.get(subRef) : undefined;
  if (!sub || sub.status !== "active") return;
  const before = clone(sub);
  sub.status = "past_due";
  core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: diff(before, sub) } }, at, null);
}

/** Invoice-side actions: auto-finalize drafts, charge open invoices whose attempt is due. */
export function nextInvoiceAction(core: Core, inv: Stripe.Invoice): DueAction | null {
  const meta = core.state.invoiceMeta.get(inv.id);
  if (inv.status === "draft" && meta?.finalizeAt != null && inv.auto_advance) {
    const at = meta.finalizeAt;
    return {
      at,
      run: () => {
        finalizeInvoice(core, inv, at, null);
        if (inv.status === "open" && chargesAutomatically(inv)) attemptInvoicePayment(core, inv, at, null);
      },
    };
  }
  if (inv.status === "open" && inv.next_payment_attempt !== null && inv.auto_advance && chargesAutomatically(inv)) {
    const at = inv.next_payment_attempt;
    return { at, run: () => void attemptInvoicePayment(core, inv, at, null) };
  }
  if (inv.status === "open" && !chargesAutomatically(inv) && inv.due_date !== null && meta && !meta.overdueSent) {
    const at = inv.due_date;
    return { at, run: () => invoiceOverdue(core, inv, meta, at) };
  }
  return null;
}
