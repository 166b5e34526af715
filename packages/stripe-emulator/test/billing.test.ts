import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, DAY, eventTypes, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start({ taxRates: { "US-CA": 725 } });
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

const forCustomer =
  (customerId: string) =>
  (e: Stripe.Event): boolean => {
    const o = e.data.object;
    if ("customer" in o && o.customer === customerId) return true;
    return "id" in o && o.id === customerId;
  };
const lifecycle = (t: string): boolean => t.startsWith("customer.subscription.") || t.startsWith("invoice.");
const priceOf = (sub: Stripe.Subscription): string | undefined => sub.items.data[0]?.price.id;

describe("test clocks: subscription lifecycle", () => {
  it("trial → trial_will_end → first paid invoice, events in order", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], trial_period_days: 7, metadata: { user_id: "u1", tier: "local" } });
    expect(sub.status).toBe("trialing");
    expect(sub.trial_end).toBe(T0 + 7 * DAY);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 7 * DAY + 2 * 3600 });
    const ready = await h.stripe.testHelpers.testClocks.retrieve(clock.id);
    expect(ready.status).toBe("ready");
    const after = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
    expect(after.status).toBe("active");
    const inv = after.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("latest_invoice not expanded");
    expect(inv.status).toBe("paid");
    expect(inv.amount_paid).toBe(2900);
    expect(inv.billing_reason).toBe("subscription_cycle");
    expect(inv.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(inv.parent?.subscription_details?.metadata).toEqual({ user_id: "u1", tier: "local" });
    const types = (await eventTypes(h.stripe, forCustomer(customer.id))).filter(lifecycle);
    expect(types).toEqual([
      "customer.subscription.created",
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
      "customer.subscription.trial_will_end",
      "customer.subscription.updated",
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
    ]);
    const willEnd = (await h.stripe.events.list({ type: "customer.subscription.trial_will_end" })).data.find(forCustomer(customer.id));
    expect(willEnd?.created).toBe(T0 + 4 * DAY);
  });

  it("renews monthly at period end with Stripe's calendar anchoring", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }] });
    expect(sub.status).toBe("active");
    expect(sub.items.data[0]?.current_period_end).toBe(Date.UTC(2026, 1, 1) / 1000);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: Date.UTC(2026, 3, 1, 2) / 1000 });
    const invoices = await h.stripe.invoices.list({ customer: customer.id });
    expect(invoices.data.map((i) => [i.billing_reason, i.status, i.amount_paid])).toEqual([
      ["subscription_cycle", "paid", 4900],
      ["subscription_cycle", "paid", 4900],
      ["subscription_cycle", "paid", 4900],
      ["subscription_create", "paid", 4900],
    ]);
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.items.data[0]?.current_period_start).toBe(Date.UTC(2026, 3, 1) / 1000);
    expect(s.items.data[0]?.current_period_end).toBe(Date.UTC(2026, 4, 1) / 1000);
  });

  it("billing_cycle_anchor=now with proration_behavior=none starts a full period now and bills it at once, as a resume after a voided renewal needs", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }] });
    await h.stripe.subscriptions.update(sub.id, { pause_collection: { behavior: "void" } });
    const feb10 = Date.UTC(2026, 1, 10) / 1000;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: feb10 });
    expect((await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]).toMatchObject({ billing_reason: "subscription_cycle", status: "void" });

    const refused = await h.stripe.subscriptions.update(sub.id, { billing_cycle_anchor: { type: "now" } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ type: "StripeInvalidRequestError", param: "proration_behavior" });

    const resumed = await h.stripe.subscriptions.update(sub.id, { pause_collection: "", billing_cycle_anchor: { type: "now" }, proration_behavior: "none" });
    expect(resumed.pause_collection).toBeNull();
    expect(resumed.billing_cycle_anchor).toBe(feb10);
    expect(resumed.items.data[0]).toMatchObject({ current_period_start: feb10, current_period_end: Date.UTC(2026, 2, 10) / 1000 });
    const inv = await h.stripe.invoices.retrieve(resumed.latest_invoice as string);
    expect(inv).toMatchObject({ billing_reason: "subscription_update", status: "paid", amount_paid: 4900 });
    expect(inv.lines.data.map((l) => [l.amount, l.period.start, l.period.end])).toEqual([[4900, feb10, Date.UTC(2026, 2, 10) / 1000]]);
  });

  it("a failed renewal makes the subscription past_due with the decline code; invoices.pay recovers it", async () => {
    const { clock, customer } = await clockCustomer(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], trial_period_days: 7 });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 8 * DAY });
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.status).toBe("past_due");
    const inv = await h.stripe.invoices.retrieve(typeof s.latest_invoice === "string" ? s.latest_invoice : "", { expand: ["payments.data.payment.payment_intent"] });
    expect(inv.status).toBe("open");
    expect(inv.attempt_count).toBe(1);
    expect(inv.next_payment_attempt).toBeNull();
    const pi = inv.payments?.data[0]?.payment.payment_intent;
    if (typeof pi !== "object" || pi === undefined) throw new Error("payment_intent not expanded");
    expect(pi.last_payment_error?.decline_code).toBe("insufficient_funds");
    const types = (await eventTypes(h.stripe, forCustomer(customer.id))).filter(lifecycle).slice(-5);
    expect(types).toEqual(["invoice.created", "invoice.finalized", "invoice.payment_failed", "invoice.updated", "customer.subscription.updated"]);
    // The worker retries by calling invoices.pay: still declined → 402 card_error.
    const err = await h.stripe.invoices.pay(inv.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    if (err instanceof Stripe.errors.StripeCardError) expect(err.decline_code).toBe("insufficient_funds");
    const visa = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const paid = await h.stripe.invoices.pay(inv.id, { payment_method: visa.id });
    expect(paid.status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
  });

  it("cancel_at_period_end ends the subscription at period end with customer.subscription.deleted", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    const upd = await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    expect(upd.cancel_at).toBe(upd.items.data[0]?.current_period_end);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 40 * DAY });
    const s = await h.stripe.subscriptions.retrieve(sub.id);
    expect(s.status).toBe("canceled");
    expect(s.ended_at).toBe(Date.UTC(2026, 1, 1) / 1000);
    const types = (await eventTypes(h.stripe, forCustomer(customer.id))).filter(lifecycle).slice(-2);
    expect(types).toEqual(["customer.subscription.updated", "customer.subscription.deleted"]);
    expect((await h.stripe.subscriptions.list({ customer: customer.id })).data).toHaveLength(0);
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toHaveLength(1);
  });

  it("has no upcoming invoice for a subscription set to cancel at the period end (invoice_upcoming_none), and one again once it is kept", async () => {
    const { customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    expect((await h.stripe.invoices.createPreview({ subscription: sub.id })).amount_due).toBe(2900);
    await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    const err = await h.stripe.invoices.createPreview({ subscription: sub.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((err as Stripe.errors.StripeInvalidRequestError).code).toBe("invoice_upcoming_none");
    await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
    expect((await h.stripe.invoices.createPreview({ subscription: sub.id })).amount_due).toBe(2900);
  });

  it("counts a coupon once in a preview's totals", async () => {
    const { customer } = await clockCustomer(h.stripe);
    await h.stripe.customers.update(customer.id, { address: { country: "US", state: "CA" } });
    const coupon = await h.stripe.coupons.create({ percent_off: 25, duration: "forever" });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], discounts: [{ coupon: coupon.id }], automatic_tax: { enabled: true } });
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id });
    // 2900 − 725 = 2175, tax 7.25 % of 2175 = 157.69 → 158.
    expect(preview.lines.data[0]?.discount_amounts).toHaveLength(1);
    expect(preview).toMatchObject({ subtotal: 2900, total: 2175 + 158, amount_due: 2175 + 158 });
  });

  it("smart retries (opt-in) retry on schedule and then cancel", async () => {
    const h2 = await start({ smartRetries: { scheduleDays: [3, 5], afterLastRetry: "cancel" } });
    try {
      const p = await catalog(h2.stripe);
      const { clock, customer } = await clockCustomer(h2.stripe, "pm_card_chargeCustomerFail");
      const sub = await h2.stripe.subscriptions.create({ customer: customer.id, items: [{ price: p.local.id }], trial_period_days: 1 });
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 10 * DAY });
      const s = await h2.stripe.subscriptions.retrieve(sub.id);
      expect(s.status).toBe("canceled");
      expect(s.cancellation_details?.reason).toBe("payment_failed");
      const inv = await h2.stripe.invoices.retrieve(typeof s.latest_invoice === "string" ? s.latest_invoice : "");
      expect(inv.attempt_count).toBe(3);
    } finally {
      await h2.stop();
    }
  });

  it("subscription creation with a declining card: allow_incomplete → incomplete; error_if_incomplete → 402 and nothing created", async () => {
    const { customer } = await clockCustomer(h.stripe, "pm_card_chargeDeclinedExpiredCard");
    const s = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    expect(s.status).toBe("incomplete");
    const err = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], payment_behavior: "error_if_incomplete" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    if (err instanceof Stripe.errors.StripeCardError) expect(err.code).toBe("expired_card");
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toHaveLength(1);
  });
});

describe("proration", () => {
  it("a mid-period change from $29 to $49 matches Stripe's time-based formula to the cent", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    const item = sub.items.data[0];
    if (!item) throw new Error("no item");
    const start = item.current_period_start;
    const end = item.current_period_end;
    const changeAt = T0 + 10 * DAY + 12345;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: changeAt });
    // Independent expectation: amount × remaining/period, rounded to the nearest cent.
    const fraction = (end - changeAt) / (end - start);
    const credit = -Math.round(2900 * fraction);
    const debit = Math.round(4900 * fraction);
    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: { items: [{ id: item.id, price: prices.mobile.id }], proration_behavior: "always_invoice", proration_date: changeAt },
    });
    const prorationLines = preview.lines.data.filter((l) => l.parent?.subscription_item_details?.proration ?? l.parent?.invoice_item_details?.proration);
    expect(prorationLines.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, debit]);
    expect(preview.total).toBe(credit + debit);
    const updated = await h.stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: prices.mobile.id }],
      proration_behavior: "always_invoice",
      proration_date: changeAt,
      expand: ["latest_invoice"],
    });
    const inv = updated.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("not expanded");
    expect(inv.billing_reason).toBe("subscription_update");
    expect(inv.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, debit]);
    expect(inv.amount_paid).toBe(credit + debit);
    expect(inv.lines.data.every((l) => l.period.start === changeAt && l.period.end === end)).toBe(true);
    expect(updated.items.data[0]?.price.id).toBe(prices.mobile.id);
  });

  it("create_prorations leaves pending items that land on the next renewal invoice", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    const item = sub.items.data[0];
    if (!item) throw new Error("no item");
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 15 * DAY });
    await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: prices.mobile.id }], proration_behavior: "create_prorations" });
    const pending = await h.stripe.invoiceItems.list({ customer: customer.id, pending: true });
    expect(pending.data).toHaveLength(2);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 32 * DAY });
    const latest = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
    const sum = pending.data.reduce((a, ii) => a + ii.amount, 0);
    expect(latest?.total).toBe(4900 + sum);
    expect(latest?.status).toBe("paid");
  });
});

describe("payment_behavior on subscriptions.update", () => {
  /** A clock customer subscribed to local ($29, paid), whose default card then starts declining. */
  async function subscribedThenDeclining(): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription }> {
    const { clock, customer } = await clockCustomer(h.stripe);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }] });
    expect(sub.status).toBe("active");
    const failing = await h.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    await h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: failing.id } });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 10 * DAY });
    return { clock, customer, sub };
  }

  it("error_if_incomplete: a declined charge for the update answers 402 card_error and leaves the subscription as it was, the invoice voided", async () => {
    const { customer, sub } = await subscribedThenDeclining();
    const item = sub.items.data[0];
    if (!item) throw new Error("no item");
    const yearly = await h.stripe.prices.create({
      product: typeof prices.local.product === "string" ? prices.local.product : prices.local.product.id,
      currency: "usd",
      unit_amount: 29000,
      recurring: { interval: "year" },
    });
    const coupon = await h.stripe.coupons.create({ percent_off: 10, duration: "forever" });
    const eventsBefore = (await h.stripe.events.list({ limit: 1 })).data[0]?.id;
    // An upgrade billed now (always_invoice) and an interval change (bills the new period now).
    const changes: Stripe.SubscriptionUpdateParams[] = [
      {
        items: [{ id: item.id, price: prices.mobile.id }],
        proration_behavior: "always_invoice",
        payment_behavior: "error_if_incomplete",
        metadata: { plan: "mobile" },
        discounts: [{ coupon: coupon.id }],
      },
      { items: [{ id: item.id, price: yearly.id }], payment_behavior: "error_if_incomplete" },
    ];
    for (const change of changes) {
      const err = await h.stripe.subscriptions.update(sub.id, change).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
      if (!(err instanceof Stripe.errors.StripeCardError)) continue;
      expect(err.statusCode).toBe(402);
      expect(err.type).toBe("StripeCardError");
      expect(err.code).toBe("card_declined");
      expect(err.decline_code).toBe("generic_decline");
      expect(err.payment_intent?.status).toBe("requires_payment_method");
      expect(err.payment_intent?.last_payment_error?.decline_code).toBe("generic_decline");

      const after = await h.stripe.subscriptions.retrieve(sub.id);
      expect(priceOf(after)).toBe(prices.local.id);
      expect(after.items.data[0]?.id).toBe(item.id);
      expect([after.status, after.latest_invoice, after.billing_cycle_anchor, after.metadata, after.discounts]).toEqual([sub.status, sub.latest_invoice, sub.billing_cycle_anchor, sub.metadata, []]);
      expect([after.items.data[0]?.current_period_start, after.items.data[0]?.current_period_end]).toEqual([item.current_period_start, item.current_period_end]);
      const voided = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0];
      expect([voided?.billing_reason, voided?.status]).toEqual(["subscription_update", "void"]);
      expect(voided?.id).not.toBe(sub.latest_invoice);
      expect((await h.stripe.invoiceItems.list({ customer: customer.id, pending: true })).data).toHaveLength(0);
    }
    expect((await h.stripe.coupons.retrieve(coupon.id)).times_redeemed).toBe(0);
    // Of the attempts, only the voiding of their invoices remains as events.
    const since = (await h.stripe.events.list({ limit: 100, ending_before: eventsBefore })).data.filter(forCustomer(customer.id));
    expect(since.map((e) => e.type)).toEqual(["invoice.voided", "invoice.voided"]);
  });

  it("allow_incomplete (the default): the declined update is applied, its invoice stays open and the subscription is past_due", async () => {
    const { customer, sub } = await subscribedThenDeclining();
    const item = sub.items.data[0];
    if (!item) throw new Error("no item");
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: prices.mobile.id }], proration_behavior: "always_invoice", expand: ["latest_invoice"] });
    expect(priceOf(updated)).toBe(prices.mobile.id);
    expect(updated.status).toBe("past_due");
    const inv = updated.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("latest_invoice not expanded");
    expect([inv.billing_reason, inv.status, inv.attempt_count]).toEqual(["subscription_update", "open", 1]);
    expect(priceOf(await h.stripe.subscriptions.retrieve(sub.id))).toBe(prices.mobile.id);
    const types = (await eventTypes(h.stripe, forCustomer(customer.id))).filter(lifecycle).slice(-6);
    expect(types).toEqual(["customer.subscription.updated", "invoice.created", "invoice.finalized", "invoice.payment_failed", "invoice.updated", "customer.subscription.updated"]);
  });
});

describe("tax and discounts", () => {
  it("computes automatic tax from the rate table by customer address, in integer cents", async () => {
    const { clock, customer } = await clockCustomer(h.stripe, "pm_card_visa", { country: "US", state: "CA", postal_code: "94107" });
    void clock;
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.mobile.id }], automatic_tax: { enabled: true }, expand: ["latest_invoice"] });
    const inv = sub.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("not expanded");
    expect(inv.total_taxes?.[0]?.amount).toBe(355); // 4900 × 7.25 % = 355.25
    expect(inv.total).toBe(5255);
  });

  it("keeps an existing discount passed as discounts[i][discount] next to new coupons; a list without it drops it", async () => {
    const { clock, customer } = await clockCustomer(h.stripe);
    const forever20 = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
    const repeating25 = await h.stripe.coupons.create({ percent_off: 25, duration: "repeating", duration_in_months: 2 });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], discounts: [{ coupon: forever20.id }], expand: ["discounts"] });
    const kept = sub.discounts[0];
    if (typeof kept !== "object" || kept === undefined) throw new Error("discounts not expanded");
    expect(kept).toMatchObject({ start: T0, end: null, subscription: sub.id });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 5 * DAY });

    const both = await h.stripe.subscriptions.update(sub.id, { discounts: [{ discount: kept.id }, { coupon: repeating25.id }], expand: ["discounts"] });
    const [first, second] = both.discounts.map((d) => (typeof d === "object" ? d : null));
    // The same discount object (same id, start and end), then a new one for the coupon.
    expect(first).toEqual(kept);
    expect(second?.id).not.toBe(kept.id);
    expect(second).toMatchObject({ start: T0 + 5 * DAY, end: Date.UTC(2026, 2, 6) / 1000, subscription: sub.id, source: { coupon: repeating25.id, type: "coupon" } });
    // Both apply to the next invoice, each to the line's amount: 20 % and 25 % of 2900.
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(preview.total_discount_amounts).toEqual([
      { amount: 580, discount: kept.id },
      { amount: 725, discount: second?.id },
    ]);
    expect(preview).toMatchObject({ subtotal: 2900, total: 2900 - 580 - 725 });

    // A discount that is unknown, or another subscription's, is refused naming the entry; nothing changes.
    const other = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], discounts: [{ coupon: forever20.id }] });
    const othersDiscount = other.discounts[0];
    for (const discount of ["di_missing", typeof othersDiscount === "string" ? othersDiscount : ""]) {
      const err = await h.stripe.subscriptions.update(sub.id, { discounts: [{ coupon: forever20.id }, { discount }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      if (err instanceof Stripe.errors.StripeInvalidRequestError) expect(err.param).toBe("discounts[1][discount]");
    }
    expect((await h.stripe.subscriptions.retrieve(sub.id)).discounts).toEqual([kept.id, second?.id]);

    // Only coupons listed: the kept discount is dropped, the coupon is redeemed anew.
    const replaced = await h.stripe.subscriptions.update(sub.id, { discounts: [{ coupon: repeating25.id }], expand: ["discounts"] });
    expect(replaced.discounts).toHaveLength(1);
    const only = replaced.discounts[0];
    if (typeof only !== "object" || only === undefined) throw new Error("discounts not expanded");
    expect([kept.id, second?.id]).not.toContain(only.id);
    expect((await h.stripe.invoices.createPreview({ subscription: sub.id })).total).toBe(2900 - 725);
  });

  it("applies a percent-off coupon", async () => {
    const { customer } = await clockCustomer(h.stripe);
    const coupon = await h.stripe.coupons.create({ percent_off: 20, duration: "forever" });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], discounts: [{ coupon: coupon.id }], expand: ["latest_invoice"] });
    const inv = sub.latest_invoice;
    if (typeof inv !== "object" || inv === null) throw new Error("not expanded");
    expect(inv.total).toBe(2320);
  });
});
