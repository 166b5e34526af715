import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, DAY, eventTypes, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price; yearly: Stripe.Price };
beforeAll(async () => {
  h = await start({ taxRates: { "US-CA": 725 } });
  const c = await catalog(h.stripe);
  const yearly = await h.stripe.prices.create({
    product: typeof c.local.product === "string" ? c.local.product : c.local.product.id,
    currency: "usd",
    unit_amount: 29000,
    recurring: { interval: "year" },
    lookup_key: "local_yearly",
  });
  prices = { ...c, yearly };
});
afterAll(async () => {
  await h.stop();
});

const FEB1 = Date.UTC(2026, 1, 1) / 1000;
const MAR1 = Date.UTC(2026, 2, 1) / 1000;
const CA: Stripe.AddressParam = { country: "US", state: "CA", postal_code: "94107" };

const forCustomer =
  (customerId: string) =>
  (e: Stripe.Event): boolean => {
    const o = e.data.object;
    return "customer" in o && o.customer === customerId;
  };

/** Stripe's error for a rejected call (fails the test if the call succeeded). */
async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeInvalidRequestError> {
  const err = await call.then(
    () => new Error("expected the call to be refused"),
    (e: unknown) => e,
  );
  if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
  return err;
}

/** A clock customer subscribed to `price` at T0 (paid first invoice). */
async function subscribed(price: Stripe.Price, opts: { tax?: boolean } = {}): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription }> {
  const { clock, customer } = await clockCustomer(h.stripe, "pm_card_visa", opts.tax ? CA : undefined);
  const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], ...(opts.tax ? { automatic_tax: { enabled: true } } : {}) });
  expect(sub.status).toBe("active");
  return { clock, customer, sub };
}

/** The worker's call: keep the current phase, then `to` for one month, then release. */
async function scheduleChange(sub: Stripe.Subscription, to: Stripe.Price): Promise<Stripe.SubscriptionSchedule> {
  const created = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = created.phases[0];
  if (!current || !created.current_phase) throw new Error("no current phase");
  const currentPrice = current.items[0]?.price;
  return h.stripe.subscriptionSchedules.update(created.id, {
    end_behavior: "release",
    phases: [
      {
        items: [{ price: typeof currentPrice === "string" ? currentPrice : (currentPrice?.id ?? ""), quantity: 1 }],
        start_date: created.current_phase.start_date,
        end_date: created.current_phase.end_date,
      },
      { items: [{ price: to.id, quantity: 1 }], duration: { interval: to.recurring?.interval ?? "month", interval_count: 1 } },
    ],
  });
}

async function balanceOf(customerId: string): Promise<number> {
  const c = await h.stripe.customers.retrieve(customerId);
  if (c.deleted) throw new Error("customer deleted");
  return c.balance;
}

const priceOf = (sub: Stripe.Subscription): string | undefined => sub.items.data[0]?.price.id;

describe("subscription schedules", () => {
  it("from_subscription: one phase for the current period, end_behavior release, the subscription points at it", async () => {
    const { customer, sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    expect(sched.id).toMatch(/^sub_sched_/);
    expect(sched.object).toBe("subscription_schedule");
    expect(sched.status).toBe("active");
    expect(sched.end_behavior).toBe("release");
    expect(sched.subscription).toBe(sub.id);
    expect(sched.customer).toBe(customer.id);
    expect(sched.current_phase).toEqual({ start_date: T0, end_date: FEB1 });
    expect(sched.phases).toHaveLength(1);
    const phase = sched.phases[0];
    expect(phase?.start_date).toBe(T0);
    expect(phase?.end_date).toBe(FEB1);
    expect(phase?.currency).toBe("usd");
    expect(phase?.proration_behavior).toBe("create_prorations");
    expect(phase?.items.map((i) => [i.price, i.quantity])).toEqual([[prices.mobile.id, 1]]);
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect(after.schedule).toBe(sched.id);
    const updated = (await h.stripe.events.list({ type: "customer.subscription.updated", limit: 5 })).data.find(forCustomer(customer.id));
    expect(updated?.data.previous_attributes).toEqual({ schedule: null });
  });

  it("a downgrade scheduled from a subscription applies at the period end: the renewal invoice bills the new price", async () => {
    const { clock, customer, sub } = await subscribed(prices.mobile, { tax: true });
    const sched = await scheduleChange(sub, prices.local);
    expect(sched.phases.map((p) => [p.start_date, p.end_date, p.items[0]?.price])).toEqual([
      [T0, FEB1, prices.mobile.id],
      [FEB1, MAR1, prices.local.id],
    ]);
    expect(sched.current_phase).toEqual({ start_date: T0, end_date: FEB1 });
    // Nothing changes before the period end: no proration, still on mobile.
    expect((await h.stripe.invoiceItems.list({ customer: customer.id, pending: true })).data).toHaveLength(0);
    expect(priceOf(await h.stripe.subscriptions.retrieve(sub.id))).toBe(prices.mobile.id);

    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FEB1 + 2 * 3600 });
    const s = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
    expect(priceOf(s)).toBe(prices.local.id);
    expect(s.items.data[0]?.current_period_start).toBe(FEB1);
    expect(s.items.data[0]?.current_period_end).toBe(MAR1);
    expect(s.schedule).toBe(sched.id);
    const inv = s.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("latest_invoice not expanded");
    expect(inv.billing_reason).toBe("subscription_cycle");
    expect(inv.status).toBe("paid");
    expect(inv.lines.data.map((l) => [l.pricing?.price_details?.price, l.amount, l.parent?.subscription_item_details?.proration])).toEqual([[prices.local.id, 2900, false]]);
    expect(inv.total_taxes?.[0]?.amount).toBe(210); // 2900 × 7.25 % = 210.25
    expect(inv.total).toBe(3110);
    const moved = await h.stripe.subscriptionSchedules.retrieve(sched.id);
    expect(moved.status).toBe("active");
    expect(moved.current_phase).toEqual({ start_date: FEB1, end_date: MAR1 });
    // The subscription event at the renewal carries the price change and the new period.
    const renewalUpdate = (await h.stripe.events.list({ type: "customer.subscription.updated", created: { gte: FEB1, lte: FEB1 } })).data.find(forCustomer(customer.id));
    if (renewalUpdate?.type !== "customer.subscription.updated") throw new Error("no customer.subscription.updated at the renewal");
    expect(renewalUpdate.data.previous_attributes?.items?.data?.[0]?.price?.id).toBe(prices.mobile.id);

    // The last phase ends: the schedule completes and releases the subscription, which stays on local.
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: MAR1 + 2 * 3600 });
    const done = await h.stripe.subscriptionSchedules.retrieve(sched.id);
    expect(done.status).toBe("completed");
    expect(done.completed_at).toBe(MAR1);
    expect(done.current_phase).toBeNull();
    const released = await h.stripe.subscriptions.retrieve(sub.id);
    expect(released.schedule).toBeNull();
    expect(released.status).toBe("active");
    expect(priceOf(released)).toBe(prices.local.id);
    expect((await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0]?.total).toBe(3110);

    const types = await eventTypes(h.stripe, forCustomer(customer.id));
    expect(types.filter((t) => t.startsWith("subscription_schedule."))).toEqual([
      "subscription_schedule.created",
      "subscription_schedule.updated",
      "subscription_schedule.updated",
      "subscription_schedule.completed",
    ]);
    // At the period end: the subscription changes, the schedule moves, then the renewal invoice.
    const feb = types.slice(types.indexOf("subscription_schedule.updated") + 1);
    expect(feb.slice(0, 3)).toEqual(["customer.subscription.updated", "subscription_schedule.updated", "invoice.created"]);
  });

  it("phases follow real time too (no test clock)", async () => {
    let nowMs = T0 * 1000;
    const rt = await start({ now: () => nowMs });
    try {
      const p = await catalog(rt.stripe);
      const customer = await rt.stripe.customers.create({ email: "realtime@example.com" });
      const pm = await rt.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
      await rt.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
      const sub = await rt.stripe.subscriptions.create({ customer: customer.id, items: [{ price: p.mobile.id }] });
      const created = await rt.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
      await rt.stripe.subscriptionSchedules.update(created.id, {
        phases: [
          { items: [{ price: p.mobile.id }], start_date: T0, end_date: FEB1 },
          { items: [{ price: p.local.id }], duration: { interval: "month", interval_count: 1 } },
        ],
      });
      // Not on a test clock, the schedule is listed without `customer`.
      expect((await rt.stripe.subscriptionSchedules.list()).data.map((x) => x.id)).toEqual([created.id]);
      nowMs = (FEB1 + 2 * 3600) * 1000;
      rt.em.advanceTo();
      expect(priceOf(await rt.stripe.subscriptions.retrieve(sub.id))).toBe(p.local.id);
      const latest = (await rt.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
      expect([latest?.billing_reason, latest?.status, latest?.amount_paid]).toEqual(["subscription_cycle", "paid", 2900]);
    } finally {
      await rt.stop();
    }
  });

  it("the upcoming invoice preview shows the next phase's price", async () => {
    const { customer, sub } = await subscribed(prices.mobile, { tax: true });
    const before = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    expect(before.total).toBe(5255);
    await scheduleChange(sub, prices.local);
    const preview = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id });
    expect(preview.billing_reason).toBe("upcoming");
    expect(preview.lines.data.map((l) => [l.pricing?.price_details?.price, l.amount, l.period.start, l.period.end])).toEqual([[prices.local.id, 2900, FEB1, MAR1]]);
    expect(preview.subtotal).toBe(2900);
    expect(preview.total).toBe(3110);
    expect(preview.amount_due).toBe(3110);
  });

  describe("phase discounts", () => {
    /** A clock customer on mobile ($49) with a 20 % forever promotion-code discount, moved onto a schedule. */
    async function discountedOnSchedule(): Promise<{
      clock: Stripe.TestHelpers.TestClock;
      customer: Stripe.Customer;
      sub: Stripe.Subscription;
      sched: Stripe.SubscriptionSchedule;
      discountId: string;
    }> {
      const coupon = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
      const promo = await h.stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id } });
      const { clock, customer } = await clockCustomer(h.stripe);
      const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }], discounts: [{ promotion_code: promo.id }], expand: ["latest_invoice"] });
      const first = sub.latest_invoice;
      if (typeof first !== "object" || first === null) throw new Error("latest_invoice not expanded");
      expect(first.amount_paid).toBe(3920);
      const discountId = sub.discounts[0];
      if (typeof discountId !== "string") throw new Error("no discount");
      const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
      // As Stripe does, from_subscription lists the subscription's discounts on the first phase.
      expect(sched.phases[0]?.discounts).toEqual([{ coupon: null, discount: discountId, promotion_code: null }]);
      return { clock, customer, sub, sched, discountId };
    }

    const cases: { name: string; next: (discountId: string, coupon25: string) => Stripe.SubscriptionScheduleUpdateParams.Phase.Discount[]; total: number }[] = [
      { name: "the next phase keeps the discount by id: the renewal at the phase change is discounted", next: (discountId) => [{ discount: discountId }], total: 2900 - 580 },
      { name: "the next phase lists no discounts: the renewal at the phase change is not discounted", next: () => [], total: 2900 },
      { name: "the next phase lists a coupon: a new discount from the phase start discounts the renewal", next: (_d, coupon25) => [{ coupon: coupon25 }], total: 2900 - 725 },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const { clock, customer, sub, sched, discountId } = await discountedOnSchedule();
        const coupon25 = await h.stripe.coupons.create({ percent_off: 25, duration: "forever" });
        const updated = await h.stripe.subscriptionSchedules.update(sched.id, {
          phases: [
            { items: [{ price: prices.mobile.id, quantity: 1 }], start_date: T0, end_date: FEB1, discounts: [{ discount: discountId }] },
            { items: [{ price: prices.local.id, quantity: 1 }], duration: { interval: "month", interval_count: 1 }, discounts: c.next(discountId, coupon25.id) },
          ],
        });
        expect(updated.phases[1]?.discounts).toEqual(
          c.next(discountId, coupon25.id).map((d) => ({ coupon: d.coupon ?? null, discount: d.discount ?? null, promotion_code: d.promotion_code ?? null })),
        );
        // The current phase keeps the discount: nothing changes on the subscription now.
        expect((await h.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([discountId]);
        // The upcoming invoice (the renewal at the phase change) already shows the next phase's discounts.
        expect((await h.stripe.invoices.createPreview({ subscription: sub.id })).total).toBe(c.total);

        await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FEB1 + 2 * 3600 });
        const after = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice", "discounts"] });
        expect(priceOf(after)).toBe(prices.local.id);
        const inv = after.latest_invoice;
        if (typeof inv !== "object" || inv === null) throw new Error("latest_invoice not expanded");
        expect([inv.billing_reason, inv.status, inv.subtotal, inv.total, inv.amount_paid]).toEqual(["subscription_cycle", "paid", 2900, c.total, c.total]);
        const discounts = after.discounts.map((d) => (typeof d === "object" ? d : null));
        if (c.next(discountId, coupon25.id).length === 0) {
          expect(discounts).toEqual([]);
          expect(inv.total_discount_amounts).toEqual([]);
        } else if (c.total === 2900 - 580) {
          expect(discounts.map((d) => [d?.id, d?.start])).toEqual([[discountId, T0]]);
          expect(inv.total_discount_amounts).toEqual([{ amount: 580, discount: discountId }]);
        } else {
          expect(discounts.map((d) => [d?.source.coupon, d?.start])).toEqual([[coupon25.id, FEB1]]);
          expect(inv.total_discount_amounts).toEqual([{ amount: 725, discount: discounts[0]?.id }]);
        }
        void customer;
      });
    }

    it("writing the current phase without discounts removes the subscription's discount now; a foreign discount is refused naming its param", async () => {
      const { sub, sched, discountId } = await discountedOnSchedule();
      const other = await discountedOnSchedule();
      const err = await refusal(
        h.stripe.subscriptionSchedules.update(sched.id, {
          phases: [
            { items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1, discounts: [{ discount: discountId }] },
            { items: [{ price: prices.local.id }], duration: { interval: "month" }, discounts: [{ discount: other.discountId }] },
          ],
        }),
      );
      expect(err.param).toBe("phases[1][discounts][0][discount]");
      expect((await h.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([discountId]);
      const rewritten = await h.stripe.subscriptionSchedules.update(sched.id, { phases: [{ items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1 }] });
      expect(rewritten.phases[0]?.discounts).toEqual([]);
      expect((await h.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([]);
      expect((await h.stripe.invoices.createPreview({ subscription: sub.id })).total).toBe(4900);
    });
  });

  it("release keeps the current price and detaches the schedule", async () => {
    const { clock, customer, sub } = await subscribed(prices.mobile);
    const sched = await scheduleChange(sub, prices.local);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 5 * DAY });
    const released = await h.stripe.subscriptionSchedules.release(sched.id);
    expect(released.status).toBe("released");
    expect(released.released_at).toBe(T0 + 5 * DAY);
    expect(released.released_subscription).toBe(sub.id);
    expect(released.subscription).toBeNull();
    expect(released.current_phase).toBeNull();
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.schedule).toBeNull();
    expect(priceOf(s)).toBe(prices.mobile.id);
    const types = await eventTypes(h.stripe, forCustomer(customer.id));
    expect(types.slice(-2)).toEqual(["customer.subscription.updated", "subscription_schedule.released"]);
    const upd = (await h.stripe.events.list({ type: "customer.subscription.updated", limit: 5 })).data.find(forCustomer(customer.id));
    expect(upd?.data.previous_attributes).toEqual({ schedule: sched.id });
    // The renewal bills the current price; the released schedule no longer acts.
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FEB1 + 2 * 3600 });
    const renewed = await h.stripe.subscriptions.retrieve(sub.id);
    expect(priceOf(renewed)).toBe(prices.mobile.id);
    expect((await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0]?.total).toBe(4900);
    const again = await refusal(h.stripe.subscriptionSchedules.release(sched.id));
    expect(again.message).toContain("`released` status");
  });

  it("cancel ends the subscription now, crediting the unused time (prorate and invoice_now default to true)", async () => {
    const { clock, customer, sub } = await subscribed(prices.mobile);
    const sched = await scheduleChange(sub, prices.local);
    const at = T0 + 10 * DAY;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: at });
    const canceled = await h.stripe.subscriptionSchedules.cancel(sched.id);
    expect(canceled.status).toBe("canceled");
    expect(canceled.canceled_at).toBe(at);
    expect(canceled.current_phase).toBeNull();
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.status).toBe("canceled");
    expect(s.ended_at).toBe(at);
    // Independent expectation: 21 of 31 days unused, rounded to the cent.
    const credit = -Math.round((4900 * (FEB1 - at)) / (FEB1 - T0));
    const final = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
    expect(final?.total).toBe(credit);
    expect(final?.status).toBe("paid");
    expect(await balanceOf(customer.id)).toBe(credit);
    const types = (await eventTypes(h.stripe, forCustomer(customer.id))).filter((t) => t.startsWith("customer.subscription.") || t.startsWith("subscription_schedule."));
    expect(types.slice(-2)).toEqual(["customer.subscription.deleted", "subscription_schedule.canceled"]);
  });

  it("cancel with prorate=false and invoice_now=false just ends the subscription", async () => {
    const { clock, customer, sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 10 * DAY });
    await h.stripe.subscriptionSchedules.cancel(sched.id, { prorate: false, invoice_now: false });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("canceled");
    expect((await h.stripe.invoices.list({ customer: customer.id })).data).toHaveLength(1);
    expect(await balanceOf(customer.id)).toBe(0);
  });

  it("canceling the subscription directly cancels its schedule", async () => {
    const { customer, sub } = await subscribed(prices.mobile);
    const sched = await scheduleChange(sub, prices.local);
    await h.stripe.subscriptions.cancel(sub.id);
    const after = await h.stripe.subscriptionSchedules.retrieve(sched.id);
    expect(after.status).toBe("canceled");
    expect(after.canceled_at).toBe(T0);
    const types = await eventTypes(h.stripe, forCustomer(customer.id));
    expect(types.slice(-2)).toEqual(["customer.subscription.deleted", "subscription_schedule.canceled"]);
  });

  it("a monthly→annual phase restarts the cycle with a yearly period", async () => {
    const { clock, customer, sub } = await subscribed(prices.local);
    const sched = await scheduleChange(sub, prices.yearly);
    const FEB1_2027 = Date.UTC(2027, 1, 1) / 1000;
    expect(sched.phases[1]?.end_date).toBe(FEB1_2027);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FEB1 + 2 * 3600 });
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(priceOf(s)).toBe(prices.yearly.id);
    expect(s.billing_cycle_anchor).toBe(FEB1);
    expect(s.items.data[0]?.current_period_start).toBe(FEB1);
    expect(s.items.data[0]?.current_period_end).toBe(FEB1_2027);
    const inv = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
    expect(inv?.billing_reason).toBe("subscription_cycle");
    expect(inv?.lines.data.map((l) => [l.amount, l.period.start, l.period.end])).toEqual([[29000, FEB1, FEB1_2027]]);
    expect(inv?.amount_paid).toBe(29000);
    expect((await h.stripe.subscriptionSchedules.retrieve(sched.id)).current_phase).toEqual({ start_date: FEB1, end_date: FEB1_2027 });
  });

  it("the last phase with end_behavior cancel ends the subscription", async () => {
    const { clock, customer, sub } = await subscribed(prices.mobile);
    const created = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const sched = await h.stripe.subscriptionSchedules.update(created.id, {
      end_behavior: "cancel",
      phases: [{ items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1 }],
    });
    expect(sched.end_behavior).toBe("cancel");
    // Stripe shows the schedule's cancellation on the subscription.
    const pending = await h.stripe.subscriptions.retrieve(sub.id);
    expect(pending.cancel_at).toBe(FEB1);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FEB1 + 2 * 3600 });
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.status).toBe("canceled");
    expect(s.ended_at).toBe(FEB1);
    expect((await h.stripe.invoices.list({ customer: customer.id })).data).toHaveLength(1);
    const done = await h.stripe.subscriptionSchedules.retrieve(sched.id);
    expect(done.status).toBe("completed");
    expect(done.completed_at).toBe(FEB1);
    const types = await eventTypes(h.stripe, forCustomer(customer.id));
    expect(types.filter((t) => t.startsWith("subscription_schedule."))).toEqual(["subscription_schedule.created", "subscription_schedule.updated", "subscription_schedule.completed"]);
    expect(types.slice(-2)).toEqual(["customer.subscription.deleted", "subscription_schedule.completed"]);
  });

  it("releasing a schedule with end_behavior cancel removes the cancellation it set", async () => {
    const { sub } = await subscribed(prices.mobile);
    const created = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    await h.stripe.subscriptionSchedules.update(created.id, { end_behavior: "cancel" });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).cancel_at).toBe(FEB1);
    await h.stripe.subscriptionSchedules.release(created.id);
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.cancel_at).toBeNull();
    expect(s.schedule).toBeNull();
  });

  it("a phase boundary inside a period prorates per the phase's proration_behavior", async () => {
    const { clock, customer, sub } = await subscribed(prices.local);
    const created = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const switchAt = T0 + 10 * DAY;
    await h.stripe.subscriptionSchedules.update(created.id, {
      phases: [
        { items: [{ price: prices.local.id }], start_date: T0, end_date: switchAt },
        { items: [{ price: prices.mobile.id }], proration_behavior: "always_invoice" },
      ],
    });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: switchAt + 3600 });
    const inv = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
    const fraction = (FEB1 - switchAt) / (FEB1 - T0);
    expect(inv?.billing_reason).toBe("subscription_update");
    expect(inv?.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([-Math.round(2900 * fraction), Math.round(4900 * fraction)]);
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(priceOf(s)).toBe(prices.mobile.id);
    expect(s.items.data[0]?.current_period_end).toBe(FEB1);
  });

  it("customer + phases starting now creates the subscription on the schedule", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sched = await h.stripe.subscriptionSchedules.create({
      customer: customer.id,
      start_date: "now",
      end_behavior: "release",
      phases: [
        { items: [{ price: prices.mobile.id }], duration: { interval: "month", interval_count: 2 } },
        { items: [{ price: prices.local.id }], duration: { interval: "month", interval_count: 1 } },
      ],
    });
    expect(sched.status).toBe("active");
    expect(sched.phases.map((p) => [p.start_date, p.end_date])).toEqual([
      [T0, MAR1],
      [MAR1, Date.UTC(2026, 3, 1) / 1000],
    ]);
    const subId = typeof sched.subscription === "string" ? sched.subscription : "";
    const sub = await h.stripe.subscriptions.retrieve(subId);
    expect(sub.schedule).toBe(sched.id);
    expect(sub.status).toBe("active");
    expect(priceOf(sub)).toBe(prices.mobile.id);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: MAR1 + 2 * 3600 });
    expect(priceOf(await h.stripe.subscriptions.retrieve(subId))).toBe(prices.local.id);
    expect((await h.stripe.invoices.list({ customer: customer.id })).data.map((i) => i.total)).toEqual([2900, 4900, 4900]);
    const future = await refusal(h.stripe.subscriptionSchedules.create({ customer: customer.id, start_date: T0 + 90 * DAY, phases: [{ items: [{ price: prices.local.id }] }] }));
    expect(future.param).toBe("start_date");
  });

  it("refuses an unknown price in a phase naming phases[1][items][0][price], and changes nothing", async () => {
    const { sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const err = await refusal(
      h.stripe.subscriptionSchedules.update(sched.id, {
        phases: [
          { items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1 },
          { items: [{ price: "price_doesnotexist" }], duration: { interval: "month" } },
        ],
      }),
    );
    expect(err.type).toBe("StripeInvalidRequestError");
    expect(err.code).toBe("resource_missing");
    expect(err.param).toBe("phases[1][items][0][price]");
    expect(err.message).toBe("No such price: 'price_doesnotexist'");
    expect((await h.stripe.subscriptionSchedules.retrieve(sched.id)).phases).toHaveLength(1);
  });

  it("refuses changing the current phase's start date, gaps between phases, and end_date with duration", async () => {
    const { sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const moved = await refusal(h.stripe.subscriptionSchedules.update(sched.id, { phases: [{ items: [{ price: prices.mobile.id }], start_date: T0 - DAY, end_date: FEB1 }] }));
    expect(moved.message).toBe("You can not modify the start date of the current phase.");
    expect(moved.param).toBe("phases[0][start_date]");
    const gap = await refusal(
      h.stripe.subscriptionSchedules.update(sched.id, {
        phases: [
          { items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1 },
          { items: [{ price: prices.local.id }], start_date: FEB1 + DAY },
        ],
      }),
    );
    expect(gap.param).toBe("phases[1][start_date]");
    const both = await refusal(
      h.stripe.subscriptionSchedules.update(sched.id, { phases: [{ items: [{ price: prices.mobile.id }], start_date: T0, end_date: FEB1, duration: { interval: "month" } }] }),
    );
    expect(both.param).toBe("phases[0][duration]");
    // `iterations` was removed from the pinned API version (2025-09-30.clover): unknown parameter.
    const res = await fetch(`${h.em.url}/v1/subscription_schedules/${sched.id}`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.em.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: `phases[0][items][0][price]=${prices.mobile.id}&phases[0][start_date]=${T0}&phases[0][end_date]=${FEB1}&phases[1][items][0][price]=${prices.local.id}&phases[1][iterations]=1`,
    });
    expect(res.status).toBe(400);
    const body: { error: { param: string; code: string } } = JSON.parse(await res.text());
    expect(body.error).toMatchObject({ param: "phases[1][iterations]", code: "parameter_unknown" });
  });

  it("refuses from_subscription for a subscription that already has a schedule, a canceled one, and together with phases", async () => {
    const { sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const twice = await refusal(h.stripe.subscriptionSchedules.create({ from_subscription: sub.id }));
    expect(twice.param).toBe("from_subscription");
    expect(twice.message).toBe(`You cannot migrate a subscription that is already attached to a schedule: \`${sched.id}\`.`);
    const withPhases = await refusal(h.stripe.subscriptionSchedules.create({ from_subscription: sub.id, phases: [{ items: [{ price: prices.local.id }] }] }));
    expect(withPhases.param).toBe("phases");
    expect(withPhases.message).toBe("You cannot set `phases` if `from_subscription` is set.");
    const other = await subscribed(prices.local);
    await h.stripe.subscriptions.cancel(other.sub.id);
    const canceled = await refusal(h.stripe.subscriptionSchedules.create({ from_subscription: other.sub.id }));
    expect(canceled.param).toBe("from_subscription");
    const missing = await refusal(h.stripe.subscriptionSchedules.create({ from_subscription: "sub_missing" }));
    expect(missing.statusCode).toBe(404);
  });

  it("refuses cancel_at_period_end and cancel_at on a scheduled subscription; other updates stay allowed", async () => {
    const { sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    const message = `The subscription is managed by the subscription schedule \`${sched.id}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`;
    const cape = await refusal(h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }));
    expect(cape.message).toBe(message);
    const at = await refusal(h.stripe.subscriptions.update(sub.id, { cancel_at: FEB1 - DAY }));
    expect(at.message).toBe(message);
    const s = await h.stripe.subscriptions.update(sub.id, { metadata: { note: "kept" } });
    expect(s.metadata).toEqual({ note: "kept" });
    expect(s.cancel_at_period_end).toBe(false);
  });

  it("retrieve, list (customer, scheduled) and expand", async () => {
    const { customer, sub } = await subscribed(prices.mobile);
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id, metadata: { user_id: "u7" } });
    expect(sched.metadata).toEqual({ user_id: "u7" });
    const listed = await h.stripe.subscriptionSchedules.list({ customer: customer.id });
    expect(listed.data.map((x) => x.id)).toEqual([sched.id]);
    // As on Stripe, schedules of test-clock customers are only listed with `customer`.
    expect((await h.stripe.subscriptionSchedules.list()).data.find((x) => x.id === sched.id)).toBeUndefined();
    expect((await h.stripe.subscriptionSchedules.list({ customer: customer.id, scheduled: true })).data).toHaveLength(0);
    const expanded = await h.stripe.subscriptionSchedules.retrieve(sched.id, { expand: ["subscription", "customer", "phases.items.price"] });
    const xs = expanded.subscription;
    if (typeof xs !== "object" || xs === null) throw new Error("subscription not expanded");
    expect(xs.id).toBe(sub.id);
    const xp = expanded.phases[0]?.items[0]?.price;
    if (typeof xp !== "object" || xp === null || !("unit_amount" in xp)) throw new Error("price not expanded");
    expect(xp.unit_amount).toBe(4900);
    const fromSub = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["schedule"] });
    const xsched = fromSub.schedule;
    if (typeof xsched !== "object" || xsched === null) throw new Error("schedule not expanded");
    expect(xsched.id).toBe(sched.id);
    const missing = await h.stripe.subscriptionSchedules.retrieve("sub_sched_missing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    if (missing instanceof Stripe.errors.StripeInvalidRequestError) expect(missing.statusCode).toBe(404);
  });
});
