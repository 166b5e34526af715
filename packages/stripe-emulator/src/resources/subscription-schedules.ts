import type Stripe from "stripe";
import { diff, type Core } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, int, listFields, mergeMetadata, obj, objs, s, str, validate, type Fields, type Params } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { newId } from "../ids.ts";
import { prorate } from "../proration.ts";
import { clone } from "../store.ts";
import { boundary } from "../billing/periods.ts";
import { buildInvoice } from "../billing/invoices.ts";
import { cancelSubscriptionNow, createSubscription, pendingItemLines, productName } from "../billing/lifecycle.ts";
import {
  applyPhase,
  automaticTaxSetting,
  buildPhase,
  clearCancel,
  defaultSettingsFrom,
  emitSubscriptionUpdated,
  isOpen,
  phaseDiscountRefs,
  settleInvoice,
  syncScheduleCancel,
  type PhaseInput,
} from "../billing/schedules.ts";
import { idOf, requireCustomer, requirePrice } from "./common.ts";
import { createProrationItems, discountsSpec, resolveDiscountEntries } from "./subscriptions.ts";

/**
 * `/v1/subscription_schedules`. Phases use the pinned API version's parameters: a phase lasts
 * until `end_date` or for `duration: {interval, interval_count}`; `iterations` was removed in
 * 2025-09-30.clover and is refused as an unknown parameter, as Stripe does.
 */

const phaseItemSpec = s.obj({ price: s.str(), quantity: s.int({ min: 0 }), metadata: s.meta() });
const createPhaseFields: Fields = {
  items: s.req(s.arr(phaseItemSpec)),
  end_date: s.ts(),
  duration: s.obj({ interval: s.req(s.enum("day", "week", "month", "year")), interval_count: s.int({ min: 1 }) }),
  proration_behavior: s.enum("always_invoice", "create_prorations", "none"),
  metadata: s.meta(),
  currency: s.str(),
  automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
  billing_cycle_anchor: s.enum("automatic", "phase_start"),
  default_payment_method: s.str(),
  description: s.str({ emptyable: true }),
  discounts: discountsSpec,
};
const updatePhaseFields: Fields = { ...createPhaseFields, start_date: s.ts({ allowNow: true }), end_date: s.ts({ allowNow: true }) };
const defaultSettingsSpec = s.obj({
  automatic_tax: s.obj({ enabled: s.req(s.bool()) }),
  billing_cycle_anchor: s.enum("automatic", "phase_start"),
  collection_method: s.enum("charge_automatically"),
  default_payment_method: s.str(),
  description: s.str({ emptyable: true }),
});

export function requireSchedule(core: Core, id: string, param = "schedule"): Stripe.SubscriptionSchedule {
  const sched = core.state.subscriptionSchedules.get(id);
  if (!sched) throw resourceMissing("subscription_schedule", id, param);
  return sched;
}

function requirePaymentMethod(core: Core, pmId: string, customerId: string, param: string): string {
  const pm = core.state.paymentMethods.get(pmId);
  if (!pm) throw resourceMissing("payment_method", pmId, param);
  if (pm.customer !== customerId)
    throw invalidRequest(`The customer does not have a payment method with the ID ${pmId}. The payment method must be attached to the customer.`, param, "resource_missing");
  return pmId;
}

/**
 * Turns `phases[]` params into dated phases. The first phase starts at its `start_date` (update)
 * or at `firstStart` (create); each later phase starts where the previous one ends (a given
 * `start_date` must match it). A phase ends at `end_date`, after `duration`, at the next phase's
 * `start_date`, or else after one billing period of its price. A phase without `automatic_tax`
 * takes the schedule's default setting. Every error names its param.
 */
function resolvePhases(core: Core, list: Params[], firstStart: number | null, now: number, customerId: string, defaultTax: boolean, subscriptionId: string | null): PhaseInput[] {
  const out: PhaseInput[] = [];
  let prevEnd: number | null = null;
  list.forEach((ph, i) => {
    const at = `phases[${i}]`;
    const items = (objs(ph, "items") ?? []).map((it, j) => {
      const param = `${at}[items][${j}][price]`;
      const priceId = str(it, "price");
      if (priceId === undefined) throw invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
      const price = requirePrice(core, priceId, param);
      if (!price.recurring) throw invalidRequest("The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.", param);
      return { price, quantity: int(it, "quantity") ?? 1, metadata: mergeMetadata(null, obj(it, "metadata"), false) };
    });
    const first = items[0];
    const rec = first?.price.recurring;
    if (!first || !rec) throw invalidRequest(`Missing required param: ${at}[items].`, `${at}[items]`, "parameter_missing");
    items.forEach((it, j) => {
      const r = it.price.recurring;
      if (it.price.currency !== first.price.currency || r?.interval !== rec.interval || r.interval_count !== rec.interval_count) {
        throw invalidRequest("Currency and interval fields must match across all plans on this subscription.", `${at}[items][${j}][price]`);
      }
    });
    const currency = str(ph, "currency");
    if (currency !== undefined && currency !== first.price.currency)
      throw invalidRequest(`The price's currency (${first.price.currency}) does not match the phase's currency (${currency}).`, `${at}[currency]`);
    const rawStart = ph.start_date;
    let start: number;
    if (rawStart !== undefined) {
      start = rawStart === "now" ? now : typeof rawStart === "number" ? rawStart : now;
      if (prevEnd !== null && start !== prevEnd) {
        throw invalidRequest(`The start_date of ${at} (${start}) must equal the end_date of phases[${i - 1}] (${prevEnd}): phases must be contiguous.`, `${at}[start_date]`);
      }
    } else if (prevEnd !== null) start = prevEnd;
    else if (firstStart !== null) start = firstStart;
    else throw invalidRequest("Missing at least one phase with `start_date` to anchor end dates.", `${at}[start_date]`);
    const duration = obj(ph, "duration");
    if (has(ph, "end_date") && duration) throw invalidRequest("You may only specify one of these parameters: duration, end_date.", `${at}[duration]`);
    let end: number;
    if (has(ph, "end_date")) {
      end = ph.end_date === "now" ? now : (int(ph, "end_date") ?? now);
    } else if (duration) {
      const interval = str(duration, "interval");
      end = boundary(start, interval === "day" || interval === "week" || interval === "year" ? interval : "month", int(duration, "interval_count") ?? 1, 1);
    } else {
      const nextStart = list[i + 1]?.start_date;
      end = typeof nextStart === "number" ? nextStart : nextStart === "now" ? now : boundary(start, rec.interval, rec.interval_count, 1);
    }
    if (end <= start) throw invalidRequest(`The end_date of ${at} (${end}) must be after its start_date (${start}).`, has(ph, "end_date") ? `${at}[end_date]` : `${at}[start_date]`);
    prevEnd = end;
    const pm = str(ph, "default_payment_method");
    const behavior = str(ph, "proration_behavior");
    const bca = str(ph, "billing_cycle_anchor");
    // A phase's discounts are the subscription's discounts while it runs; none listed = none.
    const discounts = resolveDiscountEntries(core, objs(ph, "discounts") ?? [], `${at}[discounts]`, customerId, subscriptionId).map(
      (r): Stripe.SubscriptionSchedule.Phase.Discount =>
        "discount" in r
          ? { coupon: null, discount: r.discount, promotion_code: null }
          : r.promotionCode !== null
            ? { coupon: null, discount: null, promotion_code: r.promotionCode }
            : { coupon: r.coupon, discount: null, promotion_code: null },
    );
    out.push({
      start,
      end,
      items,
      prorationBehavior: behavior === "always_invoice" || behavior === "none" ? behavior : "create_prorations",
      metadata: mergeMetadata(null, obj(ph, "metadata"), false),
      automaticTax: bool(obj(ph, "automatic_tax"), "enabled") ?? defaultTax,
      billingCycleAnchor: bca === "automatic" || bca === "phase_start" ? bca : null,
      defaultPaymentMethod: pm !== undefined ? requirePaymentMethod(core, pm, customerId, `${at}[default_payment_method]`) : null,
      description: str(ph, "description") ?? null,
      trialEnd: null,
      discounts,
    });
  });
  return out;
}

function defaultSettingsUpdate(core: Core, current: Stripe.SubscriptionSchedule.DefaultSettings, ds: Params, customerId: string): Stripe.SubscriptionSchedule.DefaultSettings {
  const next = clone(current);
  const tax = obj(ds, "automatic_tax");
  if (tax) next.automatic_tax = automaticTaxSetting(bool(tax, "enabled") ?? false);
  const bca = str(ds, "billing_cycle_anchor");
  if (bca === "automatic" || bca === "phase_start") next.billing_cycle_anchor = bca;
  const pm = str(ds, "default_payment_method");
  if (pm !== undefined) next.default_payment_method = requirePaymentMethod(core, pm, customerId, "default_settings[default_payment_method]");
  if (has(ds, "description")) next.description = str(ds, "description") ?? null;
  return next;
}

function newSchedule(
  id: string,
  now: number,
  customerId: string,
  sub: Stripe.Subscription,
  phases: Stripe.SubscriptionSchedule.Phase[],
  defaults: Stripe.SubscriptionSchedule.DefaultSettings,
  endBehavior: "release" | "cancel",
  metadata: Record<string, string>,
): Stripe.SubscriptionSchedule {
  const first = phases[0];
  return {
    id,
    object: "subscription_schedule",
    application: null,
    billing_mode: { flexible: null, type: "classic" },
    canceled_at: null,
    completed_at: null,
    created: now,
    current_phase: first ? { start_date: first.start_date, end_date: first.end_date } : null,
    customer: customerId,
    customer_account: null,
    default_settings: defaults,
    end_behavior: endBehavior,
    livemode: false,
    metadata,
    pause_schedules: [],
    phases,
    released_at: null,
    released_subscription: null,
    status: "active",
    subscription: sub.id,
    test_clock: sub.test_clock === null ? null : idOf(sub.test_clock),
  };
}

/**
 * `POST /v1/subscription_schedules`: `from_subscription` (one phase = the current period, with
 * the subscription's items; nothing else may be set), or `customer` + `phases` starting now
 * (creates the subscription). A schedule starting in the future is not emulated.
 */
export function createSchedule(ctx: Ctx): Stripe.SubscriptionSchedule {
  const p = validate(ctx.raw, {
    from_subscription: s.str(),
    customer: s.str(),
    phases: s.arr(s.obj(createPhaseFields)),
    start_date: s.ts({ allowNow: true }),
    end_behavior: s.enum("release", "cancel"),
    metadata: s.meta(),
    default_settings: defaultSettingsSpec,
  });
  const core = ctx.core;
  const metadata = mergeMetadata(null, obj(p, "metadata"), false);
  const fromId = str(p, "from_subscription");
  if (fromId !== undefined) {
    for (const k of ["phases", "customer", "start_date", "end_behavior", "default_settings"]) {
      if (has(p, k)) throw invalidRequest(`You cannot set \`${k}\` if \`from_subscription\` is set.`, k);
    }
    const sub = core.state.subscriptions.get(fromId);
    if (!sub) throw resourceMissing("subscription", fromId, "from_subscription");
    if (sub.schedule !== null) throw invalidRequest(`You cannot migrate a subscription that is already attached to a schedule: \`${idOf(sub.schedule)}\`.`, "from_subscription");
    if (sub.status === "canceled" || sub.status === "incomplete_expired") throw invalidRequest(`You cannot migrate a subscription that is canceled: \`${sub.id}\`.`, "from_subscription");
    const customerId = idOf(sub.customer) ?? "";
    const now = core.nowForCustomer(customerId);
    const item = sub.items.data[0];
    const start = item?.current_period_start ?? now;
    const periodEnd = item?.current_period_end ?? now;
    // A subscription already set to cancel in this period keeps doing so, through the schedule.
    const cancels = sub.cancel_at !== null && sub.cancel_at <= periodEnd;
    const phase = buildPhase({
      start,
      end: cancels && sub.cancel_at !== null ? sub.cancel_at : periodEnd,
      items: sub.items.data.map((si) => ({ price: si.price, quantity: si.quantity ?? 1, metadata: clone(si.metadata) })),
      prorationBehavior: "create_prorations",
      metadata: {},
      automaticTax: sub.automatic_tax.enabled,
      billingCycleAnchor: null,
      defaultPaymentMethod: null,
      description: null,
      trialEnd: sub.status === "trialing" ? sub.trial_end : null,
      discounts: sub.discounts.map((d) => ({ coupon: null, discount: idOf(d), promotion_code: null })),
    });
    const sched = newSchedule(newId("sub_sched"), now, customerId, sub, [phase], defaultSettingsFrom(sub), cancels ? "cancel" : "release", metadata);
    core.state.subscriptionSchedules.set(sched.id, sched);
    const before = clone(sub);
    sub.schedule = sched.id;
    emitSubscriptionUpdated(core, before, sub, now, ctx.request);
    core.emit({ type: "subscription_schedule.created", data: { object: sched } }, now, ctx.request);
    return sched;
  }
  const customerId = str(p, "customer");
  if (customerId === undefined) throw invalidRequest("Missing required param: customer.", "customer", "parameter_missing");
  const customer = requireCustomer(core, customerId);
  const now = core.nowForCustomer(customer.id);
  const list = objs(p, "phases") ?? [];
  if (list.length === 0) throw invalidRequest("Missing required param: phases.", "phases", "parameter_missing");
  const startParam = p.start_date;
  if (startParam !== undefined && startParam !== "now" && startParam !== now) {
    throw invalidRequest(
      "The Stripe emulator only runs subscription schedules that start now: pass `start_date=now` (or use `from_subscription`). Schedules that start in the future or are backdated are not emulated.",
      "start_date",
    );
  }
  const ds = obj(p, "default_settings");
  const defaults = ds ? defaultSettingsUpdate(core, defaultSettingsFrom(null), ds, customer.id) : defaultSettingsFrom(null);
  const resolved = resolvePhases(core, list, now, now, customer.id, defaults.automatic_tax?.enabled ?? false, null);
  const first = resolved[0];
  if (!first) throw invalidRequest("Missing required param: phases.", "phases", "parameter_missing");
  const id = newId("sub_sched");
  const dsPm = defaults.default_payment_method;
  const sub = createSubscription(
    core,
    {
      customer,
      items: first.items,
      trialEnd: null,
      metadata: first.metadata,
      defaultPaymentMethod: first.defaultPaymentMethod ?? (dsPm === null ? null : idOf(dsPm)),
      automaticTax: first.automaticTax ?? false,
      discounts: phaseDiscountRefs(core, first.discounts),
      paymentBehavior: "allow_incomplete",
      cancelAtPeriodEnd: false,
      missingPaymentMethod: "create_invoice",
      description: first.description ?? (defaults.description || null),
      scheduleId: id,
    },
    ctx.request,
  );
  const endBehavior = str(p, "end_behavior") === "cancel" ? "cancel" : "release";
  const sched = newSchedule(id, now, customer.id, sub, resolved.map(buildPhase), defaults, endBehavior, metadata);
  core.state.subscriptionSchedules.set(sched.id, sched);
  const before = clone(sub);
  syncScheduleCancel(sched, sub, now, false);
  emitSubscriptionUpdated(core, before, sub, now, ctx.request);
  core.emit({ type: "subscription_schedule.created", data: { object: sched } }, now, ctx.request);
  return sched;
}

export function retrieveSchedule(ctx: Ctx): Stripe.SubscriptionSchedule {
  validate(ctx.raw, {});
  return requireSchedule(ctx.core, ctx.path.id ?? "");
}

function refuseClosed(sched: Stripe.SubscriptionSchedule, action: string): void {
  if (!isOpen(sched)) {
    throw invalidRequest(`You cannot ${action} a subscription schedule that is currently in the \`${sched.status}\` status. It must be in one of the following statuses: \`not_started\`, \`active\`.`);
  }
}

function subscriptionOf(core: Core, sched: Stripe.SubscriptionSchedule): Stripe.Subscription | undefined {
  return sched.subscription === null ? undefined : core.state.subscriptions.get(idOf(sched.subscription) ?? "");
}

/**
 * `POST /v1/subscription_schedules/:id`. `phases` replaces the phase list (past phases may be
 * omitted): the phase running now must keep its start_date, phases are contiguous. A change to
 * the running phase's items applies to the subscription now with the request's
 * `proration_behavior`; later phases apply when their start comes.
 */
export function updateSchedule(ctx: Ctx): Stripe.SubscriptionSchedule {
  const p = validate(ctx.raw, {
    phases: s.arr(s.obj(updatePhaseFields)),
    end_behavior: s.enum("release", "cancel"),
    metadata: s.meta(),
    proration_behavior: s.enum("always_invoice", "create_prorations", "none"),
    default_settings: defaultSettingsSpec,
  });
  const core = ctx.core;
  const sched = requireSchedule(core, ctx.path.id ?? "", "schedule");
  refuseClosed(sched, "update");
  const customerId = idOf(sched.customer) ?? "";
  const now = core.nowForCustomer(customerId);
  const sub = subscriptionOf(core, sched);
  const ds = obj(p, "default_settings");
  const defaults = ds ? defaultSettingsUpdate(core, sched.default_settings, ds, customerId) : null;
  let phases: Stripe.SubscriptionSchedule.Phase[] | null = null;
  let current = sched.current_phase;
  if (has(p, "phases")) {
    const list = objs(p, "phases") ?? [];
    if (list.length === 0) throw invalidRequest("Missing required param: phases[0][items].", "phases[0][items]", "parameter_missing");
    const resolved = resolvePhases(core, list, null, now, customerId, (defaults ?? sched.default_settings).automatic_tax?.enabled ?? false, sub?.id ?? null);
    if (sched.current_phase) {
      const k = resolved.findIndex((r) => r.start <= now && now < r.end);
      const running = resolved[k];
      if (!running || running.start !== sched.current_phase.start_date) {
        throw invalidRequest("You can not modify the start date of the current phase.", `phases[${Math.max(k, 0)}][start_date]`);
      }
      if (sub?.status === "trialing") running.trialEnd = sub.trial_end;
      current = { start_date: running.start, end_date: running.end };
    }
    phases = resolved.map(buildPhase);
  }
  // Everything validated: apply.
  const schedBefore = clone(sched);
  const subBefore = sub ? clone(sub) : null;
  const wasCancel = sched.end_behavior === "cancel";
  if (phases) {
    sched.phases = phases;
    sched.current_phase = current;
  }
  const eb = str(p, "end_behavior");
  if (eb === "release" || eb === "cancel") sched.end_behavior = eb;
  if (has(p, "metadata")) sched.metadata = mergeMetadata(sched.metadata, obj(p, "metadata"), p.metadata === null);
  if (defaults) sched.default_settings = defaults;
  if (sub && subBefore && sched.status === "active" && sub.status !== "canceled" && sub.status !== "incomplete_expired") {
    const running = sched.phases.find((ph) => ph.start_date === sched.current_phase?.start_date);
    const behavior = str(p, "proration_behavior");
    const inv =
      running && (phases || defaults)
        ? applyPhase(core, sched, sub, running, now, behavior === "always_invoice" || behavior === "none" ? behavior : "create_prorations", ctx.request, false, phases !== null)
        : null;
    syncScheduleCancel(sched, sub, now, wasCancel);
    emitSubscriptionUpdated(core, subBefore, sub, now, ctx.request);
    if (inv) settleInvoice(core, inv, now, ctx.request);
  }
  const changes = diff(schedBefore, sched);
  if (Object.keys(changes).length > 0) core.emit({ type: "subscription_schedule.updated", data: { object: sched, previous_attributes: changes } }, now, ctx.request);
  return sched;
}

/**
 * `POST /v1/subscription_schedules/:id/release`: the schedule stops; the subscription stays as
 * it is (current price) with `schedule: null`. A cancellation the schedule set (end_behavior
 * cancel) is removed unless `preserve_cancel_date`.
 */
export function releaseSchedule(ctx: Ctx): Stripe.SubscriptionSchedule {
  const p = validate(ctx.raw, { preserve_cancel_date: s.bool() });
  const core = ctx.core;
  const sched = requireSchedule(core, ctx.path.id ?? "", "schedule");
  refuseClosed(sched, "release");
  const now = core.nowForCustomer(idOf(sched.customer) ?? "");
  const sub = subscriptionOf(core, sched);
  const ownedCancel = sched.end_behavior === "cancel";
  sched.status = "released";
  sched.released_at = now;
  sched.released_subscription = sub?.id ?? null;
  sched.subscription = null;
  sched.current_phase = null;
  if (sub) {
    const before = clone(sub);
    sub.schedule = null;
    if (ownedCancel && !bool(p, "preserve_cancel_date") && sub.status !== "canceled") clearCancel(sub);
    emitSubscriptionUpdated(core, before, sub, now, ctx.request);
  }
  core.emit({ type: "subscription_schedule.released", data: { object: sched } }, now, ctx.request);
  return sched;
}

/**
 * `POST /v1/subscription_schedules/:id/cancel`: cancels the schedule and its subscription now.
 * As on Stripe, `prorate` and `invoice_now` default to true here (unlike DELETE
 * /v1/subscriptions): the unused time is credited and a final invoice sweeps pending items, so
 * the credit lands on the customer's balance.
 */
export function cancelSchedule(ctx: Ctx): Stripe.SubscriptionSchedule {
  const p = validate(ctx.raw, { invoice_now: s.bool(), prorate: s.bool() });
  const core = ctx.core;
  const sched = requireSchedule(core, ctx.path.id ?? "", "schedule");
  refuseClosed(sched, "cancel");
  const customerId = idOf(sched.customer) ?? "";
  const now = core.nowForCustomer(customerId);
  const sub = subscriptionOf(core, sched);
  sched.status = "canceled";
  sched.canceled_at = now;
  sched.current_phase = null;
  if (sub && sub.status !== "canceled" && sub.status !== "incomplete_expired") {
    const item = sub.items.data[0];
    const start = item?.current_period_start ?? now;
    const end = item?.current_period_end ?? now;
    if ((bool(p, "prorate") ?? true) && sub.status !== "trialing" && now > start && now < end) {
      const date = new Date(now * 1000).toISOString().slice(0, 16).replace("T", " ");
      const credits = sub.items.data.map((it) => {
        const q = it.quantity ?? 1;
        return {
          amount: -prorate((it.price.unit_amount ?? 0) * q, end - now, end - start),
          description: `Unused time on ${productName(core, it.price)} after ${date}`,
          period: { start: now, end },
          priceId: it.price.id,
          quantity: q,
          proration: true,
          subscriptionItemId: it.id,
          invoiceItemId: null,
          subscriptionId: sub.id,
        };
      });
      createProrationItems(core, sub, credits, now, ctx.request);
    }
    cancelSubscriptionNow(core, sub, now, ctx.request, { reason: "cancellation_requested" });
    const customer = core.state.customers.get(customerId);
    const pending = pendingItemLines(core, sub);
    if ((bool(p, "invoice_now") ?? true) && customer && pending.length > 0) {
      const inv = buildInvoice(
        core,
        {
          customer,
          subscription: sub,
          billingReason: "subscription_update",
          periodStart: now,
          periodEnd: now,
          lines: pending,
          now,
          automaticTax: sub.automatic_tax.enabled,
          discountIds: [],
          prorationDate: now,
        },
        false,
      );
      sub.latest_invoice = inv.id;
      settleInvoice(core, inv, now, ctx.request);
    }
  }
  core.emit({ type: "subscription_schedule.canceled", data: { object: sched } }, now, ctx.request);
  return sched;
}

export function listSchedules(ctx: Ctx): Stripe.ApiList<Stripe.SubscriptionSchedule> {
  const p = validate(ctx.raw, { ...listFields, customer: s.str(), customer_account: s.str(), scheduled: s.bool(), canceled_at: s.range(), completed_at: s.range(), released_at: s.range() });
  if (has(p, "scheduled")) {
    const conflict = ["completed_at", "released_at", "canceled_at"].find((k) => has(p, k));
    if (conflict) throw invalidRequest(`You may only specify one of these parameters: ${conflict}, scheduled.`, conflict);
  }
  const customer = str(p, "customer");
  const scheduled = bool(p, "scheduled");
  const inRange = (v: number | null, key: string): boolean => !has(p, key) || (v !== null && matchesRange(v, p, key));
  const all = [...ctx.core.state.subscriptionSchedules.values()].reverse().filter((sched) => {
    // As on Stripe: without `customer`, schedules of test-clock customers are not listed.
    if (customer !== undefined ? sched.customer !== customer : sched.test_clock !== null) return false;
    if (scheduled === true && sched.status !== "not_started") return false;
    return matchesRange(sched.created, p, "created") && inRange(sched.canceled_at, "canceled_at") && inRange(sched.completed_at, "completed_at") && inRange(sched.released_at, "released_at");
  });
  return paginate(all, p, "/v1/subscription_schedules");
}
