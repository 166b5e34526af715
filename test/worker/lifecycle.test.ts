/**
 * The subscription lifecycle end to end: the worker's API (workerd) and the Stripe emulator over
 * HTTP, each subscriber on its own test clock, every Stripe event delivered as a signed webhook.
 * Amounts are checked against the official client's own invoice preview and against the
 * arithmetic Stripe uses (time-based proration, each line rounded on its own; tax 7.25 %).
 */
import { env } from "cloudflare:test";
import { and, desc, eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { requestCancellation, type CancelResult, type OfferView } from "../../worker/src/billing/cancel";
import { changeSubscription } from "../../worker/src/billing/change";
import { previewChange, type ChangePreview } from "../../worker/src/billing/change-preview";
import type { SubscriptionView } from "../../worker/src/billing/subscription-view";
import { catalog, type Catalog } from "../../worker/src/catalog";
import { auditLog, cancellationRequests, entitlements, retentionOffers, subscriptions } from "../../worker/src/db/schema";
import { gatedD1 } from "./gated-d1";
import { call, count, makeKey, svc, TEST_CALLER } from "./helpers";
import { completeCheckout, db, deliverAll, eventsFor, stripe, testClock } from "./stripe-helpers";

const DAY = 86_400;
const tax = (cents: number) => Math.floor((2 * cents * 725 + 10_000) / 20_000);
/** Stripe's proration of one line: amount × remaining / period, rounded half away from zero. */
const prorate = (amount: number, remaining: number, period: number) => Math.sign(amount) * Math.floor((2 * Math.abs(amount) * remaining + period) / (2 * period));

let service: string;
let analyst: string;
let n = 0;
beforeAll(async () => {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

const post = (path: string, body?: unknown) => call("POST", path, { key: service, ...(body === undefined ? {} : { body }) });

async function ok<T>(res: Response): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<T>();
}

async function expectProblem(res: Response, status: number, code: string, field?: string) {
  expect(res.status, await res.clone().text()).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = await res.json<{ type: string; code: string; detail: string; errors?: { field: string }[] }>();
  expect(body.code).toBe(code);
  expect(body.type).toBe(`https://federaljobadvisor.com/problems/${code.replaceAll("_", "-")}`);
  expect(body.detail.length).toBeGreaterThan(10);
  if (field) expect(body.errors?.map((e) => e.field)).toContain(field);
  return body;
}

const view = async (userId: string) => ok<SubscriptionView>(await call("GET", `/v1/subscriptions/${userId}`, { key: analyst }));
const entitlementOf = (userId: string) => db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();

async function claimsOf(userId: string) {
  const { token } = await ok<{ token: string }>(await post("/v1/entitlements/token", { user_id: userId }));
  return decodeJwt(token) as { tier: string | null; status: string; features: string[] };
}

/** Everything a rejected request must leave as it was: Stripe's subscription and the user's D1 rows. */
async function snapshot(userId: string, subId: string) {
  const sub = await stripe().subscriptions.retrieve(subId);
  return {
    stripe: { price: sub.items.data[0]!.price.id, cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at, schedule: sub.schedule, pause: sub.pause_collection, discounts: sub.discounts, latest_invoice: sub.latest_invoice },
    invoices: (await stripe().invoices.list({ subscription: subId, limit: 100 })).data.length,
    mirror: await db().select().from(subscriptions).where(eq(subscriptions.id, subId)).get(),
    entitlement: await entitlementOf(userId),
    audit: await count("audit_log"),
    offers: await count("retention_offers"),
    requests: await count("cancellation_requests"),
  };
}

interface Subscriber {
  userId: string;
  clock: Awaited<ReturnType<typeof testClock>>;
  customer: string;
  sub: string;
  seen: Set<string>;
  sync(): Promise<void>;
}

/** A user who subscribed through the worker's Checkout on a fresh test clock (trialing, not yet delivered). */
async function trialing(tier: "local" | "mobile", opts: { cycle?: "monthly" | "annual"; card?: string; promotionCode?: string } = {}): Promise<Subscriber & { trialDays: number }> {
  const clock = await testClock();
  const userId = `user_lc_${Date.now().toString(36)}_${++n}`;
  const res = await post("/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier, test_clock: clock.id, ...(opts.cycle ? { billing_cycle: opts.cycle } : {}), ...(opts.promotionCode ? { promotion_code: opts.promotionCode } : {}) });
  expect(res.status, await res.clone().text()).toBe(201);
  const session = await res.json<{ session_id: string; trial_days: number }>();
  const done = await completeCheckout(session.session_id, opts.card);
  const customer = done.customer as string;
  const sub = done.subscription as string;
  const seen = new Set<string>();
  const s: Subscriber & { trialDays: number } = {
    userId,
    clock,
    customer,
    sub,
    seen,
    trialDays: session.trial_days,
    async sync() {
      await deliverAll({ customer, sub }, seen);
    },
  };
  await s.sync();
  return s;
}

/** A subscriber whose trial has converted: day 0 of the first paid period. */
async function paying(tier: "local" | "mobile", opts: { cycle?: "monthly" | "annual" } = {}): Promise<Subscriber> {
  const s = await trialing(tier, opts);
  // Past the trial's end and the hour Stripe waits before it finalizes and charges the invoice.
  await s.clock.advanceDays(s.trialDays + 0.1);
  await s.sync();
  expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
  return s;
}

const period = async (subId: string) => {
  const item = (await stripe().subscriptions.retrieve(subId)).items.data[0]!;
  return { start: item.current_period_start, end: item.current_period_end };
};

describe("checkout, trial and conversion", () => {
  for (const [tier, days, amount] of [
    ["local", 7, 2900],
    ["mobile", 14, 4900],
  ] as const) {
    it(`gives a ${tier} subscriber a ${days}-day trial, tells the worker the trial is ending, and converts it into a first invoice of ${amount} plus tax`, async () => {
      const s = await trialing(tier);
      expect(s.trialDays).toBe(days);
      expect(await entitlementOf(s.userId)).toMatchObject({ status: "trialing", tier });
      expect(await claimsOf(s.userId)).toMatchObject({ status: "trialing", tier });

      await s.clock.advanceDays(days - 2);
      await s.sync();
      const willEnd = (await eventsFor([s.sub])).filter((e) => e.type === "customer.subscription.trial_will_end");
      expect(willEnd).toHaveLength(1);
      const stored = await env.DB.prepare("select status from stripe_events where id = ?").bind(willEnd[0]!.id).first<{ status: string }>();
      expect(stored?.status).toBe("processed");

      await s.clock.advanceDays(2.1);
      await s.sync();
      const invoices = (await stripe().invoices.list({ subscription: s.sub })).data.filter((i) => i.amount_due > 0);
      expect(invoices).toHaveLength(1);
      expect(invoices[0]).toMatchObject({ status: "paid", subtotal: amount, total: amount + tax(amount), amount_paid: amount + tax(amount) });
      expect(await entitlementOf(s.userId)).toMatchObject({ status: "active", tier });
      const mirrored = await db().select().from(subscriptions).where(eq(subscriptions.id, s.sub)).get();
      expect(mirrored).toMatchObject({ status: "active", tier });
    });
  }

  it("ends access when a trial runs out without a payment method, and refuses a second trial", async () => {
    const s = await trialing("local");
    // The user removed their card during the trial (as the billing portal lets them).
    const pms = await stripe().paymentMethods.list({ customer: s.customer });
    for (const pm of pms.data) await stripe().paymentMethods.detach(pm.id);
    await stripe().subscriptions.update(s.sub, { default_payment_method: "" });
    await s.clock.advanceDays(7.1);
    await s.sync();
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "trial_expired" });
    expect(await claimsOf(s.userId)).toMatchObject({ status: "trial_expired", features: [] });

    const again = await post("/v1/checkout", { user_id: s.userId, email: `${s.userId}@example.test`, tier: "local" });
    expect(again.status, await again.clone().text()).toBe(201);
    expect((await again.json<{ trial_days: number }>()).trial_days).toBe(0);
  });

  it("applies a promotion code given at checkout to the first paid invoice", async () => {
    const coupon = await stripe().coupons.create({ percent_off: 20, duration: "forever" });
    const code = `WELCOME${Date.now().toString(36).toUpperCase()}`;
    await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code });
    const s = await trialing("mobile", { promotionCode: code });
    expect((await view(s.userId)).discount).toMatchObject({ coupon_id: coupon.id, percent_off: 20 });
    await s.clock.advanceDays(14.1);
    await s.sync();
    const [first] = (await stripe().invoices.list({ subscription: s.sub })).data.filter((i) => i.billing_reason === "subscription_cycle");
    expect(first).toMatchObject({ status: "paid", subtotal: 4900, total: 4900 - 980 + tax(3920) });
  });
});

describe("tier and billing-cycle changes", () => {
  it("upgrades local → mobile on day 10: the preview equals Stripe's proration to the cent, the change charges it at once, and the token says mobile at once", async () => {
    const s = await paying("local");
    await s.clock.advanceDays(10);
    const { start, end } = await period(s.sub);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "mobile" }));
    const at = preview.proration_date;
    expect(at).toBe((await stripe().testHelpers.testClocks.retrieve(s.clock.id)).frozen_time);
    expect(at - start).toBeGreaterThanOrEqual(10 * DAY);

    // Unused time on local credited, remaining time on mobile charged, each rounded on its own.
    const credit = -prorate(2900, end - at, end - start);
    const debit = prorate(4900, end - at, end - start);
    expect(preview.lines.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, debit]);
    expect(preview.lines.find((l) => l.amount === credit)?.description).toMatch(/^Unused time on Local/);
    expect(preview.lines.find((l) => l.amount === debit)?.description).toMatch(/^Remaining time on 1 × Mobile/);
    const own = await stripe().invoices.createPreview({
      subscription: s.sub,
      subscription_details: { items: [{ id: (await stripe().subscriptions.retrieve(s.sub)).items.data[0]!.id, price: (await stripe().prices.list({ lookup_keys: ["mobile_monthly"] })).data[0]!.id }], proration_behavior: "always_invoice", proration_date: at },
    });
    expect(preview.amount_due_now).toBe(own.amount_due);
    expect(preview.amount_due_now).toBe(credit + debit + tax(credit + debit));
    expect(preview).toMatchObject({ effective: "now", currency: "usd", next_invoice_amount: 4900 + tax(4900) });

    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile", expected_amount_due_now: preview.amount_due_now }));
    expect(changed).toMatchObject({ tier: "mobile", billing_cycle: "monthly", status: "active", pending_change: null });
    // No webhook delivered yet: the change itself wrote the mirror and the entitlement.
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "mobile", status: "active" });
    expect((await claimsOf(s.userId)).features).toContain("nationwide_job_search");
    const charged = (await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]!;
    expect(charged).toMatchObject({ billing_reason: "subscription_update", status: "paid", amount_paid: preview.amount_due_now });
    const audit = await db().select().from(auditLog).where(and(eq(auditLog.subjectId, s.userId), eq(auditLog.action, "subscription.upgrade"))).all();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.after!)).toMatchObject({ tier: "mobile", effective: "now", invoice: charged.id });
    await s.sync();
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "active", tier: "mobile" });
  });

  it("refuses a change whose confirmed amount no longer matches a fresh preview with 409, changing nothing in Stripe or D1", async () => {
    const s = await paying("local");
    await s.clock.advanceDays(3);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "mobile" }));
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile", expected_amount_due_now: preview.amount_due_now + 1 }), 409, "amount_changed", "body.expected_amount_due_now");
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
  });

  it("downgrades mobile → local at the period end: nothing changes before the renewal, pending_change shows it, and the renewal bills 2900 plus tax with the token saying local", async () => {
    const s = await paying("mobile");
    await s.clock.advanceDays(5);
    const { end } = await period(s.sub);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "local" }));
    expect(preview).toEqual({ effective: "period_end", amount_due_now: 0, lines: [], next_invoice_amount: 2900 + tax(2900), currency: "usd", proration_date: expect.any(Number) });

    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local", expected_amount_due_now: 0 }));
    expect(changed).toMatchObject({ tier: "mobile", pending_change: { tier: "local", billing_cycle: "monthly", effective_at: end } });
    expect(changed.next_invoice?.amount_due).toBe(2900 + tax(2900));
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "mobile" });
    expect((await stripe().subscriptions.retrieve(s.sub)).items.data[0]!.price.lookup_key).toBe("mobile_monthly");

    await s.clock.advanceDays(end / DAY - (await stripe().testHelpers.testClocks.retrieve(s.clock.id)).frozen_time / DAY + 0.1);
    await s.sync();
    const renewal = (await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]!;
    expect(renewal).toMatchObject({ billing_reason: "subscription_cycle", status: "paid", subtotal: 2900, total: 2900 + tax(2900) });
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "active", tier: "local" });
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "local" });
    expect((await view(s.userId)).pending_change).toBeNull();
  });

  it("drops a downgrade scheduled for the period end when the user changes back", async () => {
    const s = await paying("mobile");
    await ok(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }));
    expect((await view(s.userId)).pending_change?.tier).toBe("local");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }), 422, "no_change", "body.tier");
    const back = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }));
    expect(back).toMatchObject({ tier: "mobile", pending_change: null });
    expect(back.next_invoice?.amount_due).toBe(4900 + tax(4900));
    expect((await stripe().subscriptions.retrieve(s.sub)).schedule).toBeNull();
    await s.clock.advanceDays(31.1);
    await s.sync();
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ subtotal: 4900 });
    expect(await entitlementOf(s.userId)).toMatchObject({ tier: "mobile", status: "active" });
  });

  it("switches monthly → annual at the period end by default, and the renewal bills the year", async () => {
    const s = await paying("local");
    const { end } = await period(s.sub);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "local", billing_cycle: "annual" }));
    expect(preview).toMatchObject({ effective: "period_end", amount_due_now: 0, next_invoice_amount: 29000 + tax(29000) });
    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local", billing_cycle: "annual" }));
    expect(changed).toMatchObject({ billing_cycle: "monthly", pending_change: { tier: "local", billing_cycle: "annual", effective_at: end } });
    await s.clock.advanceDays(31.1);
    await s.sync();
    const after = await view(s.userId);
    expect(after).toMatchObject({ tier: "local", billing_cycle: "annual", pending_change: null });
    expect(after.current_period_end! - after.current_period_start!).toBeGreaterThanOrEqual(365 * DAY);
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ subtotal: 29000, total: 29000 + tax(29000), status: "paid" });
  });

  it("switches monthly → annual now under the `now` cycle policy, crediting the unused month as Stripe's preview says", async () => {
    const nowPolicy: Catalog = { ...catalog, policy: { ...catalog.policy, change: { ...catalog.policy.change, cycle_change: "now" } } };
    const s = await paying("local", { cycle: "monthly" });
    await s.clock.advanceDays(10);
    const deps = svc();
    const preview = await previewChange(deps, s.userId, { tier: "local", billingCycle: "annual" }, nowPolicy);
    expect(preview.effective).toBe("now");
    const { start, end } = await period(s.sub);
    const credit = -prorate(2900, end - preview.proration_date, end - start);
    expect(preview.lines.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, 29000]);
    expect(preview.amount_due_now).toBe(credit + 29000 + tax(credit + 29000));
    const changed = await changeSubscription(deps, TEST_CALLER, s.userId, { tier: "local", billingCycle: "annual", expectedAmountDueNow: preview.amount_due_now }, nowPolicy);
    expect(changed).toMatchObject({ billing_cycle: "annual", pending_change: null });
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ status: "paid", amount_paid: preview.amount_due_now });
  });

  it("previews the charge of an upgrade that also changes the billing interval, which Stripe invoices at once whatever the proration policy", async () => {
    const policy: Catalog = { ...catalog, policy: { ...catalog.policy, change: { upgrade: "prorate_next_invoice", downgrade: "now_credit", cycle_change: "period_end" } } };
    const s = await paying("local");
    await s.clock.advanceDays(10);
    const deps = svc();
    const preview = await previewChange(deps, s.userId, { tier: "mobile", billingCycle: "annual" }, policy);
    const { start, end } = await period(s.sub);
    const credit = -prorate(2900, end - preview.proration_date, end - start);
    expect(preview).toMatchObject({ effective: "now", amount_due_now: credit + 49000 + tax(credit + 49000) });
    await changeSubscription(deps, TEST_CALLER, s.userId, { tier: "mobile", billingCycle: "annual", expectedAmountDueNow: preview.amount_due_now, prorationDate: preview.proration_date }, policy);
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ status: "paid", amount_paid: preview.amount_due_now });
    expect(await view(s.userId)).toMatchObject({ tier: "mobile", billing_cycle: "annual" });
  });

  it("keeps the subscriber's discount through a downgrade scheduled for the period end", async () => {
    const coupon = await stripe().coupons.create({ percent_off: 20, duration: "forever" });
    const code = `KEEP${Date.now().toString(36).toUpperCase()}`;
    await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code });
    const s = await trialing("mobile", { promotionCode: code });
    await s.clock.advanceDays(14.1);
    await s.sync();
    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }));
    expect(changed.pending_change?.tier).toBe("local");
    expect(changed.next_invoice?.amount_due).toBe(2320 + tax(2320));
    await s.clock.advanceDays(31.1);
    await s.sync();
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ subtotal: 2900, total: 2320 + tax(2320) });
  });

  it("refuses an upgrade whose charge is declined with 402, leaving the plan and the entitlement as they were", async () => {
    const s = await paying("local");
    await s.clock.advanceDays(5);
    const declining = await stripe().paymentMethods.attach("pm_card_chargeCustomerFail", { customer: s.customer });
    await stripe().customers.update(s.customer, { invoice_settings: { default_payment_method: declining.id } });
    await stripe().subscriptions.update(s.sub, { default_payment_method: declining.id });
    await s.sync();
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }), 402, "payment_failed", "path.user_id");
    const after = await snapshot(s.userId, s.sub);
    expect(after.stripe.price).toBe(before.stripe.price);
    expect(after.mirror).toEqual(before.mirror);
    expect(after.entitlement).toEqual(before.entitlement);
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "local" });
  });

  it("refuses a plan change while the subscription is set to cancel, or paused, with 409", async () => {
    const s = await paying("mobile");
    await ok(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "unused", skip_offer: true }));
    const canceling = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }), 409, "conflict", "path.user_id");
    expect(await snapshot(s.userId, s.sub)).toEqual(canceling);
    await ok(await post(`/v1/subscriptions/${s.userId}/reactivate`));
    await ok(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    const paused = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }), 409, "conflict", "path.user_id");
    expect(await snapshot(s.userId, s.sub)).toEqual(paused);
  });

  it("puts an upgrade's proration on the next invoice under the `prorate_next_invoice` policy, and downgrades now with a credit under `now_credit`", async () => {
    const policy: Catalog = { ...catalog, policy: { ...catalog.policy, change: { upgrade: "prorate_next_invoice", downgrade: "now_credit", cycle_change: "period_end" } } };
    const s = await paying("local");
    await s.clock.advanceDays(10);
    const deps = svc();
    const invoicesBefore = (await stripe().invoices.list({ subscription: s.sub })).data.length;
    const up = await previewChange(deps, s.userId, { tier: "mobile" }, policy);
    expect(up.effective).toBe("now");
    expect(up.amount_due_now).toBe(0);
    expect(up.lines).toHaveLength(2);
    const lineSum = up.lines.reduce((a, l) => a + l.amount, 0);
    expect(up.next_invoice_amount).toBe(4900 + lineSum + tax(4900 + lineSum));
    await changeSubscription(deps, TEST_CALLER, s.userId, { tier: "mobile" }, policy);
    expect((await stripe().invoices.list({ subscription: s.sub })).data.length).toBe(invoicesBefore);
    expect((await view(s.userId)).next_invoice?.amount_due).toBe(up.next_invoice_amount);
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "mobile" });

    const down = await previewChange(deps, s.userId, { tier: "local" }, policy);
    expect(down).toMatchObject({ effective: "now", amount_due_now: 0 });
    await changeSubscription(deps, TEST_CALLER, s.userId, { tier: "local" }, policy);
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "local" });
    expect((await view(s.userId)).next_invoice?.amount_due).toBe(down.next_invoice_amount);
  });

  it("changes the tier during a trial at once, keeping the trial's end and charging nothing", async () => {
    const s = await trialing("local");
    const before = await view(s.userId);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "mobile" }));
    expect(preview).toMatchObject({ effective: "now", amount_due_now: 0, lines: [], next_invoice_amount: 4900 + tax(4900) });
    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }));
    expect(changed).toMatchObject({ tier: "mobile", status: "trialing", trial_end: before.trial_end });
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "mobile", status: "trialing" });
  });
});

describe("cancellation with a retention offer", () => {
  it("offers a mobile subscriber a move to local first; accepting schedules that downgrade, and a later cancellation gets no second offer", async () => {
    const s = await paying("mobile");
    const before = await snapshot(s.userId, s.sub);
    const first = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive", feedback: "Too much for me right now" }));
    expect(first.canceled).toBe(false);
    const offer = (first as { offer: OfferView }).offer;
    expect(offer).toMatchObject({ kind: "downgrade", to_tier: "local", amount: 2900, currency: "usd" });
    expect(offer.description).toContain("$29.00/month");
    const stripeAfter = await snapshot(s.userId, s.sub);
    expect(stripeAfter.stripe).toEqual(before.stripe);
    expect(await db().select().from(cancellationRequests).where(eq(cancellationRequests.userId, s.userId)).all()).toMatchObject([{ reason: "too_expensive", feedback: "Too much for me right now", outcome: "offered", offerId: offer.id }]);

    const accepted = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: offer.id }));
    expect(accepted).toMatchObject({ tier: "mobile", cancel_at_period_end: false, pending_change: { tier: "local" } });
    expect((await db().select().from(retentionOffers).where(eq(retentionOffers.id, offer.id)).get())?.status).toBe("accepted");
    // Twice equals once.
    expect(await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: offer.id }))).toMatchObject({ pending_change: { tier: "local" } });

    const later = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "unused" }));
    expect(later).toMatchObject({ canceled: true });
  });

  it("offers a local subscriber 25 % off the next 2 months; accepting puts the discount on the subscription and the next invoice", async () => {
    const s = await paying("local");
    const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }));
    const offer = (res as { offer: OfferView }).offer;
    expect(offer).toMatchObject({ kind: "discount", percent_off: 25, duration_in_months: 2, amount: 2175 });
    const accepted = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: offer.id }));
    expect(accepted.discount).toMatchObject({ percent_off: 25 });
    expect(accepted.next_invoice?.amount_due).toBe(2175 + tax(2175));
    expect(accepted.cancel_at_period_end).toBe(false);
    await s.clock.advanceDays(31.1);
    await s.sync();
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ status: "paid", total: 2175 + tax(2175) });
  });

  it("keeps the discount a subscriber already has when they accept the retention discount", async () => {
    const coupon = await stripe().coupons.create({ percent_off: 20, duration: "forever" });
    const code = `STACK${Date.now().toString(36).toUpperCase()}`;
    await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code });
    const s = await trialing("local", { promotionCode: code });
    await s.clock.advanceDays(7.1);
    await s.sync();
    const before = (await stripe().subscriptions.retrieve(s.sub)).discounts.map((d) => (typeof d === "string" ? d : d.id));
    expect(before).toHaveLength(1);
    const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }));
    await ok(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: (res as { offer: OfferView }).offer.id }));
    const after = (await stripe().subscriptions.retrieve(s.sub, { expand: ["discounts"] })).discounts.map((d) => (typeof d === "string" ? { id: d, coupon: null } : { id: d.id, coupon: d.source.coupon && typeof d.source.coupon !== "string" ? d.source.coupon.id : d.source.coupon }));
    expect(after).toHaveLength(2);
    expect(after[0]!.id).toBe(before[0]);
    expect(after.map((d) => d.coupon)).toEqual([coupon.id, "retention_25pct_2m"]);
  });

  it("offers an annual subscriber 25 % off the next renewal instead of months that would run out first", async () => {
    const s = await paying("local", { cycle: "annual" });
    const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }));
    const offer = (res as { offer: OfferView }).offer;
    expect(offer).toMatchObject({ kind: "discount", percent_off: 25, duration: "once", amount: 21750 });
    expect(offer.description).toContain("next renewal");
    const accepted = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: offer.id }));
    expect(accepted.next_invoice?.amount_due).toBe(21750 + tax(21750));
  });

  it("cancels at the period end when asked again after the offer, keeps access until then, and reactivation undoes it", async () => {
    const s = await paying("local");
    const { end } = await period(s.sub);
    const first = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "missing_features" }));
    expect(first.canceled).toBe(false);
    const second = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "missing_features", feedback: "no federal pay scale filter" }));
    expect(second).toEqual({ canceled: true, cancel_at: end });
    const offerId = (first as { offer: OfferView }).offer.id;
    expect((await db().select().from(retentionOffers).where(eq(retentionOffers.id, offerId)).get())?.status).toBe("declined");
    const requests = await db().select().from(cancellationRequests).where(eq(cancellationRequests.userId, s.userId)).orderBy(desc(cancellationRequests.id)).all();
    expect(requests[0]).toMatchObject({ outcome: "canceled", reason: "missing_features", feedback: "no federal pay scale filter", cancelAt: end * 1000 });
    expect(await view(s.userId)).toMatchObject({ cancel_at_period_end: true, cancel_at: end });
    expect(await claimsOf(s.userId)).toMatchObject({ status: "active", tier: "local" });
    expect((await stripe().subscriptions.retrieve(s.sub)).cancellation_details).toMatchObject({ feedback: "missing_features", comment: "no federal pay scale filter" });
    // A declined offer cannot be taken any more.
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: offerId }), 409, "conflict", "body.offer_id");

    const back = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/reactivate`));
    expect(back).toMatchObject({ cancel_at_period_end: false, cancel_at: null });
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/reactivate`), 422, "no_change", "path.user_id");
  });

  it("makes one retention offer when two cancel requests race on separate D1 handles", async () => {
    const s = await paying("local");
    // B reads "no offer yet" (its entitlement, subscription and offer reads), then waits at its
    // write while A makes the offer: B's insert then meets A's and B answers with A's offer.
    const gate = gatedD1(env.DB_RACE);
    const b = requestCancellation(svc(undefined, gate.d1), TEST_CALLER, s.userId, { reason: "too_expensive" });
    gate.allow(3);
    await gate.reached(4);
    const a = await requestCancellation(svc(undefined, env.DB), TEST_CALLER, s.userId, { reason: "unused" });
    gate.allow(Number.POSITIVE_INFINITY);
    const bResult = await b;
    const offers = await db().select().from(retentionOffers).where(eq(retentionOffers.userId, s.userId)).all();
    expect(offers).toHaveLength(1);
    expect(a).toEqual({ canceled: false, offer: expect.objectContaining({ id: offers[0]!.id }) });
    expect(bResult).toEqual(a);
    expect(offers[0]!.status).toBe("open");
    expect((await stripe().subscriptions.retrieve(s.sub)).cancel_at_period_end).toBe(false);
  });

  it("cancels without an offer with skip_offer, and access ends when the period does", async () => {
    const s = await paying("mobile");
    const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "switched_service", skip_offer: true }));
    expect(res.canceled).toBe(true);
    expect(await db().select().from(retentionOffers).where(eq(retentionOffers.userId, s.userId)).get()).toBeUndefined();
    await s.clock.advanceDays(31.1);
    await s.sync();
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "canceled" });
    expect(await claimsOf(s.userId)).toMatchObject({ status: "canceled", features: [] });
  });
});

describe("pause and resume", () => {
  it("pauses collection: the entitlement says paused and denies access, the renewal invoice is voided, and resuming restores access", async () => {
    const s = await paying("local");
    const paused = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    expect(paused.paused).toBe(true);
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "paused", tier: "local" });
    expect(await claimsOf(s.userId)).toMatchObject({ status: "paused", features: [] });
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/pause`, {}), 422, "no_change", "path.user_id");

    await s.clock.advanceDays(31.1);
    await s.sync();
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ billing_reason: "subscription_cycle", status: "void" });

    const resumed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/resume`));
    expect(resumed.paused).toBe(false);
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "active" });
    expect((await claimsOf(s.userId)).features).toContain("local_job_search");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/resume`), 422, "no_change", "path.user_id");
  });

  it("keeps a paused user's features when the policy says so", async () => {
    const { grants } = await import("../../worker/src/entitlements/claims");
    const state = { userId: "u", customerId: null, subscriptionId: null, tier: "local", status: "paused" as const, trialEnd: null, graceUntil: null, suspendedAt: null, currentPeriodEnd: null };
    expect(grants(state).features).toEqual([]);
    expect(grants(state, { ...catalog, policy: { ...catalog.policy, paused_keeps_access: true } }).features).toEqual(catalog.tiers[0]!.features);
  });

  it("refuses to pause a trial or a past-due subscription with 409, pausing nothing", async () => {
    const t = await trialing("local");
    const before = await snapshot(t.userId, t.sub);
    await expectProblem(await post(`/v1/subscriptions/${t.userId}/pause`, {}), 409, "conflict", "path.user_id");
    expect(await snapshot(t.userId, t.sub)).toEqual(before);
  });

  it("refuses a resume_at in the past with 400 naming body.resume_at, pausing nothing", async () => {
    const s = await paying("local");
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/pause`, { resume_at: 1_000_000 }), 400, "validation_failed", "body.resume_at");
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
  });
});

describe("rules: a refused request changes nothing in Stripe or D1", () => {
  it("refuses a change to the plan the user already has with 422", async () => {
    const s = await paying("local");
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local", billing_cycle: "monthly" }), 422, "no_change", "body.tier");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "local" }), 422, "no_change", "body.tier");
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
  });

  it("refuses an unknown tier or billing cycle with 400 naming the field", async () => {
    const s = await paying("local");
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "enterprise" }), 400, "validation_failed", "body.tier");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile", billing_cycle: "weekly" }), 400, "validation_failed", "body.billing_cycle");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "bored" }), 400, "validation_failed", "body.reason");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: `offer_${"0".repeat(32)}` }), 404, "not_found", "body.offer_id");
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
  });

  it("pay first: refuses a change and a reactivation with 409 while an invoice is past due", async () => {
    const s = await paying("local");
    const declining = await stripe().paymentMethods.attach("pm_card_chargeCustomerFail", { customer: s.customer });
    await stripe().customers.update(s.customer, { invoice_settings: { default_payment_method: declining.id } });
    await stripe().subscriptions.update(s.sub, { default_payment_method: declining.id });
    await s.clock.advanceDays(31.1);
    await s.sync();
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("past_due");
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }), 409, "payment_past_due", "path.user_id");
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
    // Canceling is allowed while past due; undoing it waits for the payment.
    expect(await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive", skip_offer: true }))).toMatchObject({ canceled: true });
    const canceling = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/reactivate`), 409, "payment_past_due", "path.user_id");
    expect(await snapshot(s.userId, s.sub)).toEqual(canceling);
  });

  it("answers 404 naming path.user_id on every lifecycle route for a user without a subscription", async () => {
    const userId = `user_none_${Date.now().toString(36)}`;
    for (const [path, body] of [
      ["change/preview", { tier: "mobile" }],
      ["change", { tier: "mobile" }],
      ["cancel", { reason: "other" }],
      ["reactivate", undefined],
      ["pause", {}],
      ["resume", undefined],
    ] as const) {
      await expectProblem(await post(`/v1/subscriptions/${userId}/${path}`, body), 404, "not_found", "path.user_id");
    }
    await expectProblem(await post(`/v1/subscriptions/${userId}/offer/accept`, { offer_id: `offer_${"a".repeat(32)}` }), 404, "not_found", "body.offer_id");
  });
});
