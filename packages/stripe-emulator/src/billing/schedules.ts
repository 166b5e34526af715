import type Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import type { Params } from "../form.ts";
import { clone } from "../store.ts";
import { createProrationItems, planItemChange } from "../resources/subscriptions.ts";
import { attemptInvoicePayment, buildInvoice, chargesAutomatically, emitInvoiceCreated, finalizeInvoice } from "./invoices.ts";
import { buildDiscount, cancelSubscriptionNow, createDiscount, itemLine, pendingItemLines, type DiscountRef } from "./lifecycle.ts";
import { restartCycle } from "./periods.ts";

/**
 * Subscription schedules: a list of contiguous phases, each with the items the subscription
 * should have from its start_date to its end_date. The schedule drives its subscription through
 * the scheduler like any other due action: when the current phase ends, the next phase's items
 * are applied (before the renewal invoice when the phase ends at the period end, so that
 * invoice bills the new price); after the last phase the schedule completes and either releases
 * the subscription (`end_behavior: release`) or cancels it (`cancel`).
 */

/** A schedule that still drives its subscription. */
export function isOpen(sched: Stripe.SubscriptionSchedule): boolean {
  return sched.status === "active" || sched.status === "not_started";
}

/** The open schedule attached to a subscription, if any. */
export function scheduleOf(core: Core, sub: Stripe.Subscription): Stripe.SubscriptionSchedule | undefined {
  const ref = sub.schedule;
  const id = typeof ref === "string" ? ref : ref?.id;
  const sched = id ? core.state.subscriptionSchedules.get(id) : undefined;
  return sched && isOpen(sched) ? sched : undefined;
}

export function automaticTaxSetting(enabled: boolean): { disabled_reason: null; enabled: boolean; liability: { type: "self" } | null } {
  return { disabled_reason: null, enabled, liability: enabled ? { type: "self" } : null };
}

export function defaultSettingsFrom(
  sub: Stripe.Subscription | null,
  overrides: { automaticTax?: boolean; defaultPaymentMethod?: string | null; description?: string | null; billingCycleAnchor?: "automatic" | "phase_start" } = {},
): Stripe.SubscriptionSchedule.DefaultSettings {
  const pm = sub?.default_payment_method;
  return {
    application_fee_percent: null,
    automatic_tax: automaticTaxSetting(overrides.automaticTax ?? sub?.automatic_tax.enabled ?? false),
    billing_cycle_anchor: overrides.billingCycleAnchor ?? "automatic",
    billing_thresholds: null,
    collection_method: "charge_automatically",
    default_payment_method: overrides.defaultPaymentMethod !== undefined ? overrides.defaultPaymentMethod : pm ? (typeof pm === "string" ? pm : pm.id) : null,
    description: overrides.description !== undefined ? overrides.description : (sub?.description ?? null),
    invoice_settings: { account_tax_ids: null, custom_fields: null, days_until_due: null, description: null, footer: null, issuer: { type: "self" } },
    on_behalf_of: null,
    transfer_data: null,
  };
}

export interface PhaseInput {
  start: number;
  end: number;
  items: { price: Stripe.Price; quantity: number; metadata: Record<string, string> }[];
  prorationBehavior: "always_invoice" | "create_prorations" | "none";
  metadata: Record<string, string>;
  automaticTax?: boolean;
  billingCycleAnchor: "automatic" | "phase_start" | null;
  defaultPaymentMethod: string | null;
  description: string | null;
  trialEnd: number | null;
  discounts: Stripe.SubscriptionSchedule.Phase.Discount[];
}

export function buildPhase(p: PhaseInput): Stripe.SubscriptionSchedule.Phase {
  const phase: Stripe.SubscriptionSchedule.Phase = {
    add_invoice_items: [],
    application_fee_percent: null,
    billing_cycle_anchor: p.billingCycleAnchor,
    billing_thresholds: null,
    collection_method: null,
    currency: p.items[0]?.price.currency ?? "usd",
    default_payment_method: p.defaultPaymentMethod,
    default_tax_rates: [],
    description: p.description,
    discounts: p.discounts,
    end_date: p.end,
    invoice_settings: null,
    items: p.items.map((it) => ({ billing_thresholds: null, discounts: [], metadata: it.metadata, plan: it.price.id, price: it.price.id, quantity: it.quantity, tax_rates: [] })),
    metadata: p.metadata,
    on_behalf_of: null,
    proration_behavior: p.prorationBehavior,
    start_date: p.start,
    transfer_data: null,
    trial_end: p.trialEnd,
  };
  if (p.automaticTax !== undefined) phase.automatic_tax = automaticTaxSetting(p.automaticTax);
  return phase;
}

function idOf(v: string | { id: string }): string {
  return typeof v === "string" ? v : v.id;
}

/**
 * The `items` change that turns the subscription's items into the phase's: an item whose price
 * stays keeps its id (quantity updated), a changed price reuses an item slot (as
 * `items[i][id]` + `price` would), and items the phase no longer has are deleted.
 */
export function phaseItemParams(sub: Stripe.Subscription, phase: Stripe.SubscriptionSchedule.Phase): Params[] {
  const remaining = [...sub.items.data];
  const out: Params[] = [];
  const unmatched: Stripe.SubscriptionSchedule.Phase.Item[] = [];
  for (const pi of phase.items) {
    const i = remaining.findIndex((si) => si.price.id === idOf(pi.price));
    const si = i >= 0 ? remaining.splice(i, 1)[0] : undefined;
    if (si) out.push({ id: si.id, quantity: pi.quantity ?? 1 });
    else unmatched.push(pi);
  }
  for (const pi of unmatched) {
    const si = remaining.shift();
    out.push(si ? { id: si.id, price: idOf(pi.price), quantity: pi.quantity ?? 1 } : { price: idOf(pi.price), quantity: pi.quantity ?? 1 });
  }
  for (const si of remaining) out.push({ id: si.id, deleted: true });
  return out;
}

/** Whether the subscription already has exactly the phase's prices and quantities. */
export function sameItems(sub: Stripe.Subscription, phase: Stripe.SubscriptionSchedule.Phase): boolean {
  const key = (price: string, q: number): string => `${price}×${q}`;
  const a = sub.items.data.map((si) => key(si.price.id, si.quantity ?? 1)).sort();
  const b = phase.items.map((pi) => key(idOf(pi.price), pi.quantity ?? 1)).sort();
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The phase's automatic tax, falling back to the schedule's default settings. */
export function phaseAutomaticTax(sched: Stripe.SubscriptionSchedule, phase: Stripe.SubscriptionSchedule.Phase): boolean | undefined {
  return (phase.automatic_tax ?? sched.default_settings.automatic_tax)?.enabled;
}

function idOrNull(v: string | { id: string } | null): string | null {
  return v === null ? null : idOf(v);
}

/** The coupon a phase discount entry redeems (directly or through its promotion code), if any. */
function couponOfEntry(core: Core, d: Stripe.SubscriptionSchedule.Phase.Discount): { coupon: string; promotionCode: string | null } | null {
  const promoId = idOrNull(d.promotion_code);
  if (promoId !== null) {
    const c = core.state.promotionCodes.get(promoId)?.promotion.coupon;
    const coupon = c === undefined || c === null ? null : idOf(c);
    return coupon === null ? null : { coupon, promotionCode: promoId };
  }
  const coupon = idOrNull(d.coupon);
  return coupon === null ? null : { coupon, promotionCode: null };
}

/** A phase's discounts as the `discounts[]` entries they are (for a subscription created by the schedule). */
export function phaseDiscountRefs(core: Core, discounts: Stripe.SubscriptionSchedule.Phase.Discount[]): DiscountRef[] {
  return discounts.flatMap((d): DiscountRef[] => {
    const existing = idOrNull(d.discount);
    if (existing !== null) return [{ discount: existing }];
    const c = couponOfEntry(core, d);
    return c ? [c] : [];
  });
}

/**
 * The subscription's discounts while `phase` runs (Stripe: the phase's discounts replace the
 * subscription's; a phase that lists none leaves it with none). A `discount` entry keeps that
 * discount object; a coupon or promotion code is redeemed into a new discount when the phase
 * starts. When the running phase is rewritten (`reuse`), a coupon entry keeps the discount the
 * subscription already has from that same coupon (and promotion code) instead of redeeming it
 * again, so re-sending an unchanged phase does not restart a repeating coupon.
 */
export function phaseDiscountIds(core: Core, sub: Stripe.Subscription, phase: Stripe.SubscriptionSchedule.Phase, at: number, reuse: boolean): string[] {
  const customerId = idOf(sub.customer);
  const explicit = new Set(phase.discounts.map((d) => idOrNull(d.discount)).filter((x): x is string => x !== null));
  const available = reuse ? sub.discounts.map(idOf).filter((id) => !explicit.has(id)) : [];
  return phase.discounts.flatMap((d) => {
    const existing = idOrNull(d.discount);
    if (existing !== null) return core.state.discounts.has(existing) ? [existing] : [];
    const c = couponOfEntry(core, d);
    if (!c) return [];
    const i = available.findIndex((id) => {
      const have = core.state.discounts.get(id);
      return have !== undefined && idOrNull(have.source.coupon) === c.coupon && idOrNull(have.promotion_code) === c.promotionCode;
    });
    if (i >= 0) return available.splice(i, 1);
    return [createDiscount(core, c.coupon, customerId, sub.id, c.promotionCode, at).id];
  });
}

/**
 * For previews: the discounts `phase` would give the subscription, without redeeming anything.
 * Coupons become unsaved discount objects, returned in `transient` for the invoice totals.
 */
export function previewPhaseDiscounts(core: Core, sub: Stripe.Subscription, phase: Stripe.SubscriptionSchedule.Phase, at: number): { ids: string[]; transient: Stripe.Discount[] } {
  const transient: Stripe.Discount[] = [];
  const ids = phase.discounts.flatMap((d) => {
    const existing = idOrNull(d.discount);
    if (existing !== null) return core.state.discounts.has(existing) ? [existing] : [];
    const c = couponOfEntry(core, d);
    if (!c) return [];
    const discount = buildDiscount(core, c.coupon, idOf(sub.customer), sub.id, c.promotionCode, at);
    transient.push(discount);
    return [discount.id];
  });
  return { ids, transient };
}

/**
 * Puts a phase's configuration on the subscription at `at`. `entering` is a phase transition
 * (metadata merged, `billing_cycle_anchor: phase_start` honoured, discounts set from the phase);
 * otherwise it is an update of the current phase, whose discounts are set only when the phases
 * were written (`setDiscounts`). `behavior` "boundary" means the change happens at the period end, just
 * before the renewal: no prorations, and an interval change only moves the anchor (the renewal
 * then starts the new period). Mid-period, prorations follow `behavior` as on
 * subscriptions.update, and an interval change restarts the cycle with an invoice now.
 * Returns an invoice to finalize and charge after the subscription events, if any.
 */
export function applyPhase(
  core: Core,
  sched: Stripe.SubscriptionSchedule,
  sub: Stripe.Subscription,
  phase: Stripe.SubscriptionSchedule.Phase,
  at: number,
  behavior: "boundary" | "always_invoice" | "create_prorations" | "none",
  request: RequestInfo | null,
  entering: boolean,
  setDiscounts = entering,
): Stripe.Invoice | null {
  const first = sub.items.data[0];
  const periodEnd = first?.current_period_end ?? at;
  const boundary = behavior === "boundary" || at >= periodEnd;
  const prorationBehavior = boundary ? "none" : behavior;
  const plan = planItemChange(core, sub, phaseItemParams(sub, phase), undefined, prorationBehavior, at);
  sub.items.data = plan.newItems;
  const tax = phaseAutomaticTax(sched, phase);
  if (tax !== undefined && tax !== sub.automatic_tax.enabled) sub.automatic_tax = automaticTaxSetting(tax);
  const pm = phase.default_payment_method ?? sched.default_settings.default_payment_method;
  if (pm) sub.default_payment_method = typeof pm === "string" ? pm : pm.id;
  if (entering && phase.metadata && Object.keys(phase.metadata).length > 0) sub.metadata = { ...sub.metadata, ...phase.metadata };
  if (entering || setDiscounts) sub.discounts = phaseDiscountIds(core, sub, phase, at, !entering);
  const restart = plan.intervalChanged || (entering && phase.billing_cycle_anchor === "phase_start");
  if (boundary) {
    if (restart) sub.billing_cycle_anchor = at;
    return null;
  }
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const customer = core.state.customers.get(customerId);
  if (!customer) return null;
  if (restart && sub.status !== "trialing") {
    const end = restartCycle(sub, at);
    if (end === null) return null;
    createProrationItems(core, sub, plan.prorations, at, request);
    const lines = [...sub.items.data.map((it) => itemLine(core, sub, it, at, end, false)), ...pendingItemLines(core, sub)];
    const inv = buildInvoice(
      core,
      {
        customer,
        subscription: sub,
        billingReason: "subscription_update",
        periodStart: at,
        periodEnd: at,
        lines,
        now: at,
        automaticTax: sub.automatic_tax.enabled,
        discountIds: [],
        prorationDate: at,
      },
      false,
    );
    sub.latest_invoice = inv.id;
    return inv;
  }
  if (plan.prorations.length === 0 || prorationBehavior === "none") return null;
  createProrationItems(core, sub, plan.prorations, at, request);
  if (prorationBehavior !== "always_invoice") return null;
  const inv = buildInvoice(
    core,
    {
      customer,
      subscription: sub,
      billingReason: "subscription_update",
      periodStart: at,
      periodEnd: at,
      lines: pendingItemLines(core, sub),
      now: at,
      automaticTax: sub.automatic_tax.enabled,
      discountIds: [],
      prorationDate: at,
    },
    false,
  );
  sub.latest_invoice = inv.id;
  return inv;
}

/** Emits, finalizes and charges an invoice created by a schedule change. */
export function settleInvoice(core: Core, inv: Stripe.Invoice, at: number, request: RequestInfo | null): void {
  emitInvoiceCreated(core, inv, at, request);
  finalizeInvoice(core, inv, at, request);
  if (inv.status === "open" && chargesAutomatically(inv)) attemptInvoicePayment(core, inv, at, request);
}

/**
 * With `end_behavior: cancel` the schedule owns the subscription's cancellation: `cancel_at` is
 * the last phase's end (Stripe shows it on the subscription). Switching back to `release`
 * (or releasing the schedule) removes it again.
 */
export function syncScheduleCancel(sched: Stripe.SubscriptionSchedule, sub: Stripe.Subscription, now: number, wasCancel: boolean): void {
  const last = sched.phases[sched.phases.length - 1];
  if (isOpen(sched) && sched.end_behavior === "cancel" && last) {
    if (sub.cancel_at === last.end_date) return;
    sub.cancel_at = last.end_date;
    sub.cancel_at_period_end = last.end_date === sub.items.data[0]?.current_period_end;
    sub.canceled_at = sub.canceled_at ?? now;
    sub.cancellation_details = { comment: sub.cancellation_details?.comment ?? null, feedback: sub.cancellation_details?.feedback ?? null, feedback_option: null, reason: "cancellation_requested" };
  } else if (wasCancel && sub.cancel_at !== null) {
    clearCancel(sub);
  }
}

export function clearCancel(sub: Stripe.Subscription): void {
  sub.cancel_at = null;
  sub.cancel_at_period_end = false;
  sub.canceled_at = null;
  sub.cancellation_details = { comment: sub.cancellation_details?.comment ?? null, feedback: sub.cancellation_details?.feedback ?? null, feedback_option: null, reason: null };
}

/** The phase that follows the current one (phases are contiguous). */
export function nextPhase(sched: Stripe.SubscriptionSchedule): Stripe.SubscriptionSchedule.Phase | undefined {
  const cur = sched.current_phase;
  return cur ? sched.phases.find((p) => p.start_date === cur.end_date) : undefined;
}

/**
 * The current phase ended at `at`: enter the next one, or complete the schedule. In "renewal"
 * mode the phase ends at the subscription's period end and renew() is about to build the
 * renewal invoice: the items change without prorations, and renew() emits the subscription
 * event; the returned callback emits the schedule's event after it. "standalone" (a phase
 * boundary inside a period) emits everything itself.
 */
export function advanceSchedule(core: Core, sched: Stripe.SubscriptionSchedule, sub: Stripe.Subscription, at: number, mode: "renewal" | "standalone"): (() => void) | null {
  if (!sched.current_phase) return null;
  const before = clone(sub);
  const schedBefore = clone(sched);
  const next = nextPhase(sched);
  if (next) {
    const inv = applyPhase(core, sched, sub, next, at, mode === "renewal" ? "boundary" : phaseBehavior(next), null, true);
    sched.current_phase = { start_date: next.start_date, end_date: next.end_date };
    const emitSchedule = (): void => void core.emit({ type: "subscription_schedule.updated", data: { object: sched, previous_attributes: diff(schedBefore, sched) } }, at, null);
    if (mode === "renewal") return emitSchedule;
    emitSubscriptionUpdated(core, before, sub, at, null);
    emitSchedule();
    if (inv) settleInvoice(core, inv, at, null);
    return null;
  }
  sched.status = "completed";
  sched.completed_at = at;
  sched.current_phase = null;
  const emitCompleted = (): void => void core.emit({ type: "subscription_schedule.completed", data: { object: sched } }, at, null);
  if (sched.end_behavior === "cancel") {
    cancelSubscriptionNow(core, sub, at, null, { reason: "cancellation_requested" });
    emitCompleted();
    return null;
  }
  sub.schedule = null;
  if (mode === "renewal") return emitCompleted;
  emitSubscriptionUpdated(core, before, sub, at, null);
  emitCompleted();
  return null;
}

function phaseBehavior(phase: Stripe.SubscriptionSchedule.Phase): "always_invoice" | "create_prorations" | "none" {
  const b = phase.proration_behavior;
  return b === "always_invoice" ? "always_invoice" : b === "none" ? "none" : "create_prorations";
}

export function emitSubscriptionUpdated(core: Core, before: Stripe.Subscription, sub: Stripe.Subscription, at: number, request: RequestInfo | null): void {
  const changes = diff(before, sub);
  if (Object.keys(changes).length > 0) core.emit({ type: "customer.subscription.updated", data: { object: sub, previous_attributes: changes } }, at, request);
}

/**
 * The schedule's own due action, when its current phase ends somewhere other than at the
 * subscription's renewal (renew() handles that case itself, see scheduleStepAtRenewal).
 */
export function scheduleAction(core: Core, sub: Stripe.Subscription, renewsAt: number | null): { at: number; run: () => void } | null {
  const sched = scheduleOf(core, sub);
  const cur = sched?.current_phase;
  if (!sched || !cur || sched.status !== "active") return null;
  if (renewsAt !== null && cur.end_date === renewsAt) return null;
  const at = cur.end_date;
  return { at, run: () => void advanceSchedule(core, sched, sub, at, "standalone") };
}

/** Called by renew() first: applies a phase boundary that falls on this renewal. */
export function scheduleStepAtRenewal(core: Core, sub: Stripe.Subscription, at: number): (() => void) | null {
  const sched = scheduleOf(core, sub);
  if (!sched || sched.status !== "active" || sched.current_phase?.end_date !== at) return null;
  return advanceSchedule(core, sched, sub, at, "renewal");
}

/** A subscription canceled while its schedule is open cancels the schedule (as on Stripe). */
export function cancelAttachedSchedule(core: Core, sub: Stripe.Subscription, at: number, request: RequestInfo | null): void {
  const sched = scheduleOf(core, sub);
  if (!sched) return;
  sched.status = "canceled";
  sched.canceled_at = at;
  sched.current_phase = null;
  core.emit({ type: "subscription_schedule.canceled", data: { object: sched } }, at, request);
}

/**
 * For the upcoming-invoice preview: when the next phase starts at the current period end, the
 * subscription as it will be at that renewal (the next phase's items, anchor reset if the
 * interval changes, the phase's discounts) and that phase's automatic-tax setting; coupons the
 * phase would redeem are unsaved discounts in `transientDiscounts`.
 */
export function subscriptionAtNextPhase(core: Core, sub: Stripe.Subscription): { sub: Stripe.Subscription; automaticTax: boolean | undefined; transientDiscounts: Stripe.Discount[] } | null {
  const sched = scheduleOf(core, sub);
  const periodEnd = sub.items.data[0]?.current_period_end;
  if (!sched || sched.status !== "active" || periodEnd === undefined || sched.current_phase?.end_date !== periodEnd) return null;
  const next = nextPhase(sched);
  if (!next) return null;
  const preview = clone(sub);
  const plan = planItemChange(core, preview, phaseItemParams(preview, next), undefined, "none", periodEnd);
  preview.items.data = plan.newItems;
  if (plan.intervalChanged || next.billing_cycle_anchor === "phase_start") preview.billing_cycle_anchor = periodEnd;
  if (next.metadata && Object.keys(next.metadata).length > 0) preview.metadata = { ...preview.metadata, ...next.metadata };
  const discounts = previewPhaseDiscounts(core, preview, next, periodEnd);
  preview.discounts = discounts.ids;
  return { sub: preview, automaticTax: phaseAutomaticTax(sched, next), transientDiscounts: discounts.transient };
}
