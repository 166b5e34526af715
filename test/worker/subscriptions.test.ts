import { beforeAll, describe, expect, it } from "vitest";
import type { InvoicePage } from "../../worker/src/subscriptions/invoice-list";
import type { SubscriptionView as View } from "../../worker/src/subscriptions/subscription-view";
import { call, makeKey } from "./helpers";
import { deliverAll, ensurePrice, stripe, subscriber, testClock } from "./stripe-helpers";

let analyst: string;
beforeAll(async () => {
  analyst = (await makeKey("analyst")).key;
});

async function viewOf(userId: string): Promise<View> {
  const res = await call("GET", `/v1/subscriptions/${userId}`, { key: analyst });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<View>();
}

/** Stripe's own preview of the subscription's next invoice, through the official client. */
async function stripePreview(subId: string) {
  const preview = await stripe().invoices.createPreview({ subscription: subId });
  const tax = (preview.total_taxes ?? []).reduce((sum, t) => sum + t.amount, 0);
  return { preview, tax };
}

describe("GET /v1/subscriptions/{user_id}", () => {
  it("shows a local subscriber's plan, periods in seconds and Stripe's preview of the next invoice", async () => {
    // Taxed: a Californian customer with automatic tax (the suite's emulator charges US-CA 7.25 %).
    const { userId, customer, sub } = await subscriber();
    await stripe().customers.update(customer.id, { address: { country: "US", state: "CA", postal_code: "94105" } });
    await stripe().subscriptions.update(sub.id, { automatic_tax: { enabled: true } });
    await deliverAll({ customer: customer.id, sub: sub.id });
    const item = (await stripe().subscriptions.retrieve(sub.id)).items.data[0]!;
    const { preview, tax } = await stripePreview(sub.id);

    const view = await viewOf(userId);
    expect(view).toMatchObject({
      user_id: userId,
      tier: "local",
      billing_cycle: "monthly",
      status: "active",
      trial_end: null,
      current_period_start: item.current_period_start,
      current_period_end: item.current_period_end,
      cancel_at_period_end: false,
      cancel_at: null,
      paused: false,
      pending_change: null,
      discount: null,
    });
    expect(view.next_invoice).toEqual({ amount_due: 2900 + tax, tax, currency: "usd", date: preview.next_payment_attempt ?? preview.period_end });
    expect(view.next_invoice!.amount_due).toBe(preview.amount_due);
    expect(tax).toBeGreaterThan(0);
  });

  it("shows a trialing mobile subscriber's trial end and a next invoice of 4900 plus tax", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "mobile_monthly", trialDays: 14 });
    await deliverAll({ customer: customer.id, sub: sub.id });
    const { preview, tax } = await stripePreview(sub.id);

    const view = await viewOf(userId);
    expect(view).toMatchObject({ tier: "mobile", billing_cycle: "monthly", status: "trialing", trial_end: sub.trial_end });
    expect(view.trial_end).toBeGreaterThan(Math.floor(Date.now() / 1000) + 13 * 86_400);
    expect(view.next_invoice).toMatchObject({ amount_due: 4900 + tax, tax, currency: "usd" });
    expect(view.next_invoice!.amount_due).toBe(preview.amount_due);
  });

  it("shows the discount of a subscription with a coupon, and the discounted next invoice", async () => {
    const s = stripe();
    const { userId, customer, sub } = await subscriber();
    const coupon = await s.coupons.create({ percent_off: 25, duration: "repeating", duration_in_months: 3 });
    await s.subscriptions.update(sub.id, { discounts: [{ coupon: coupon.id }] });
    await deliverAll({ customer: customer.id, sub: sub.id });
    const discounted = await s.subscriptions.retrieve(sub.id, { expand: ["discounts"] });
    const discount = discounted.discounts[0] as Exclude<(typeof discounted.discounts)[number], string>;
    const { preview } = await stripePreview(sub.id);

    const view = await viewOf(userId);
    expect(view.discount).toEqual({ coupon_id: coupon.id, percent_off: 25, amount_off: null, ends_at: discount.end });
    expect(view.next_invoice!.amount_due).toBe(preview.amount_due);
    expect(view.next_invoice!.amount_due).toBeLessThan(2900);
  });

  it("shows cancel_at_period_end and cancel_at once the cancellation's webhook is processed", async () => {
    const s = stripe();
    const { userId, customer, sub } = await subscriber();
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    expect((await viewOf(userId)).cancel_at_period_end).toBe(false);

    const canceling = await s.subscriptions.update(sub.id, { cancel_at_period_end: true });
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    const view = await viewOf(userId);
    // Nothing more to bill: Stripe's preview says invoice_upcoming_none.
    expect(view).toMatchObject({ status: "active", cancel_at_period_end: true, cancel_at: canceling.cancel_at, next_invoice: null });
  });

  it("shows a subscription whose payment collection is paused as paused", async () => {
    const s = stripe();
    const { userId, customer, sub } = await subscriber();
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    expect((await viewOf(userId)).paused).toBe(false);
    await s.subscriptions.update(sub.id, { pause_collection: { behavior: "void" } });
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    expect(await viewOf(userId)).toMatchObject({ paused: true, pending_change: null });
  });

  it("answers 404 not_found naming path.user_id for a user without a subscription", async () => {
    const res = await call("GET", "/v1/subscriptions/user_never_subscribed", { key: analyst });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const problem = await res.json<{ code: string; errors: { field: string }[] }>();
    expect(problem.code).toBe("not_found");
    expect(problem.errors.map((e) => e.field)).toEqual(["path.user_id"]);
  });
});

async function invoicesOf(query: string): Promise<InvoicePage> {
  const res = await call("GET", `/v1/invoices?${query}`, { key: analyst });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<InvoicePage>();
}

describe("GET /v1/invoices", () => {
  let userId: string;
  let stripeInvoices: Awaited<ReturnType<ReturnType<typeof stripe>["invoices"]["list"]>>["data"];

  beforeAll(async () => {
    // A subscriber renewed once: the first invoice, then the renewal a month later.
    const clock = await testClock();
    const made = await subscriber({ testClock: clock.id });
    userId = made.userId;
    const seen = await deliverAll({ customer: made.customer.id, sub: made.sub.id });
    // Past the renewal and the hour Stripe waits to charge it, in a month of 28 to 31 days.
    await clock.advanceDays(31.25);
    await deliverAll({ customer: made.customer.id, sub: made.sub.id }, seen);
    stripeInvoices = (await stripe().invoices.list({ customer: made.customer.id, limit: 100 })).data;
    expect(stripeInvoices.length).toBe(2);
  }, 60_000);

  it("lists a user's invoices newest first with their numbers, amounts and lines", async () => {
    const page = await invoicesOf(`user_id=${userId}`);
    expect(page.has_more).toBe(false);
    expect(page.data.map((i) => i.id)).toEqual(stripeInvoices.map((i) => i.id));
    for (const [got, want] of page.data.map((i, n) => [i, stripeInvoices[n]!] as const)) {
      expect(got).toMatchObject({
        number: want.number,
        status: want.status,
        amount_due: want.amount_due,
        amount_paid: want.amount_paid,
        subtotal: want.subtotal,
        total: want.total,
        currency: "usd",
        period_start: want.period_start,
        period_end: want.period_end,
        hosted_invoice_url: want.hosted_invoice_url ?? null,
      });
      expect(got.tax).toBe((want.total_taxes ?? []).reduce((sum, t) => sum + t.amount, 0));
      expect(got.lines).toEqual(want.lines.data.map((l) => ({ description: l.description, amount: l.amount, proration: false })));
      expect(got.lines.map((l) => l.amount)).toEqual([2900]);
    }
  });

  it("pages with limit, has_more and starting_after", async () => {
    const first = await invoicesOf(`user_id=${userId}&limit=1`);
    expect(first.data.map((i) => i.id)).toEqual([stripeInvoices[0]!.id]);
    expect(first.has_more).toBe(true);
    const second = await invoicesOf(`user_id=${userId}&limit=1&starting_after=${first.data[0]!.id}`);
    expect(second.data.map((i) => i.id)).toEqual([stripeInvoices[1]!.id]);
    expect(second.has_more).toBe(false);
  });

  it("marks the prorated lines of a mid-period upgrade's invoice", async () => {
    const s = stripe();
    const { userId: upgrader, customer, sub } = await subscriber();
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    const mobile = await ensurePrice("mobile_monthly");
    const current = await s.subscriptions.retrieve(sub.id);
    await s.subscriptions.update(sub.id, { items: [{ id: current.items.data[0]!.id, price: mobile.id }], proration_behavior: "always_invoice" });
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    const [upgrade] = (await s.invoices.list({ customer: customer.id, limit: 1 })).data;

    const page = await invoicesOf(`user_id=${upgrader}`);
    expect(page.data.length).toBe(2);
    expect(page.data[0]!.id).toBe(upgrade!.id);
    expect(page.data[0]!.lines).toEqual(upgrade!.lines.data.map((l) => ({ description: l.description, amount: l.amount, proration: true })));
    expect(page.data[0]!.lines.some((l) => l.amount < 0)).toBe(true);
    expect(page.data[1]!.lines.map((l) => l.proration)).toEqual([false]);
  });

  it("refuses a starting_after that is not one of the user's invoices, naming query.starting_after", async () => {
    const res = await call("GET", `/v1/invoices?user_id=${userId}&starting_after=in_not_theirs`, { key: analyst });
    expect(res.status).toBe(400);
    const problem = await res.json<{ errors: { field: string }[] }>();
    expect(problem.errors.map((e) => e.field)).toEqual(["query.starting_after"]);
  });

  it("gives an unknown user an empty list", async () => {
    expect(await invoicesOf("user_id=user_without_invoices")).toEqual({ data: [], has_more: false });
  });

  it("requires user_id", async () => {
    const res = await call("GET", "/v1/invoices", { key: analyst });
    expect(res.status).toBe(400);
    const problem = await res.json<{ errors: { field: string }[] }>();
    expect(problem.errors.map((e) => e.field)).toContain("query.user_id");
  });
});
