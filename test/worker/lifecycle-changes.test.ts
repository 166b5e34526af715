/**
 * The subscription lifecycle end to end: the worker's API (workerd) and the Stripe emulator over
 * HTTP, each subscriber on its own test clock, every Stripe event delivered as a signed webhook.
 * Amounts are checked against the official client's own invoice preview and against the
 * arithmetic Stripe uses (time-based proration, each line rounded on its own; tax 7.25 %).
 */
import { env } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { changeSubscription } from "../../worker/src/subscriptions/change";
import { previewChange } from "../../worker/src/subscriptions/change-preview";
import type { ChangePreviewWire as ChangePreview, SubscriptionWire as SubscriptionView } from "../../worker/src/presenters/subscription";
import { catalog, type Catalog } from "../../worker/src/catalog";
import { auditLog, subscriptions } from "../../worker/src/db/schema";
import { rfc3339, svc, TEST_ACTOR } from "./helpers";
import { claimsOf, DAY, entitlementOf, expectProblem, makeKeys, ok, paying, period, post, prorate, snapshot, tax, trialing, useDecliningCard, view } from "./lifecycle-helpers";
import { db, eventsFor, stripe } from "./stripe-helpers";

beforeAll(makeKeys);

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
    const at = (await stripe().testHelpers.testClocks.retrieve(s.clock.id)).frozen_time;
    expect(preview.proration_date).toBe(rfc3339(at));
    expect(at - start).toBeGreaterThanOrEqual(10 * DAY);

    // Unused time on local credited, remaining time on mobile charged, each rounded on its own.
    const credit = -prorate(2900, end - at, end - start);
    const debit = prorate(4900, end - at, end - start);
    expect(preview.lines.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, debit]);
    expect(preview.lines.find((l) => l.amount === credit)?.description).toMatch(/^Unused time on Federal Job Advisor Local/);
    expect(preview.lines.find((l) => l.amount === debit)?.description).toMatch(/^Remaining time on 1 × Federal Job Advisor Mobile/);
    const own = await stripe().invoices.createPreview({
      subscription: s.sub,
      subscription_details: {
        items: [{ id: (await stripe().subscriptions.retrieve(s.sub)).items.data[0]!.id, price: (await stripe().prices.list({ lookup_keys: ["mobile_monthly"] })).data[0]!.id }],
        proration_behavior: "always_invoice",
        proration_date: at,
      },
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
    const audit = await db()
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, s.userId), eq(auditLog.action, "subscription.upgrade")))
      .all();
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
    const problem = await expectProblem(
      await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile", expected_amount_due_now: preview.amount_due_now + 1, proration_date: preview.proration_date }),
      409,
      "amount_changed",
      "body.expected_amount_due_now",
    );
    // The fresh preview, at the moment the RFC 3339 proration_date sent back names, is the one shown.
    expect((problem as unknown as { preview: ChangePreview }).preview).toEqual(preview);
    expect(await snapshot(s.userId, s.sub)).toEqual(before);
  });

  it("downgrades mobile → local at the period end: nothing changes before the renewal, pending_change shows it, and the renewal bills 2900 plus tax with the token saying local", async () => {
    const s = await paying("mobile");
    await s.clock.advanceDays(5);
    const { end } = await period(s.sub);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "local" }));
    expect(preview).toEqual({
      effective: "period_end",
      amount_due_now: 0,
      lines: [],
      next_invoice_amount: 2900 + tax(2900),
      currency: "usd",
      proration_date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/),
    });

    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local", expected_amount_due_now: 0 }));
    expect(changed).toMatchObject({ tier: "mobile", pending_change: { tier: "local", billing_cycle: "monthly", effective_at: rfc3339(end) } });
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
    expect(changed).toMatchObject({ billing_cycle: "monthly", pending_change: { tier: "local", billing_cycle: "annual", effective_at: rfc3339(end) } });
    await s.clock.advanceDays(31.1);
    await s.sync();
    const after = await view(s.userId);
    expect(after).toMatchObject({ tier: "local", billing_cycle: "annual", pending_change: null });
    expect(Date.parse(after.current_period_end!) - Date.parse(after.current_period_start!)).toBeGreaterThanOrEqual(365 * DAY * 1000);
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
    const changed = await changeSubscription(deps, TEST_ACTOR, s.userId, { tier: "local", billingCycle: "annual", expectedAmountDueNow: preview.amount_due_now }, nowPolicy);
    expect(changed).toMatchObject({ billing_cycle: "annual", pending_change: null });
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data[0]).toMatchObject({ status: "paid", amount_paid: preview.amount_due_now });
  });

  it("previews the charge of an upgrade that also changes the billing cycle, which Stripe invoices at once whatever the proration policy", async () => {
    const policy: Catalog = { ...catalog, policy: { ...catalog.policy, change: { upgrade: "prorate_next_invoice", downgrade: "now_credit", cycle_change: "period_end" } } };
    const s = await paying("local");
    await s.clock.advanceDays(10);
    const deps = svc();
    const preview = await previewChange(deps, s.userId, { tier: "mobile", billingCycle: "annual" }, policy);
    const { start, end } = await period(s.sub);
    const credit = -prorate(2900, end - preview.proration_date, end - start);
    expect(preview).toMatchObject({ effective: "now", amount_due_now: credit + 49000 + tax(credit + 49000) });
    await changeSubscription(deps, TEST_ACTOR, s.userId, { tier: "mobile", billingCycle: "annual", expectedAmountDueNow: preview.amount_due_now, prorationDate: preview.proration_date }, policy);
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
    await useDecliningCard(s);
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
    await changeSubscription(deps, TEST_ACTOR, s.userId, { tier: "mobile" }, policy);
    expect((await stripe().invoices.list({ subscription: s.sub })).data.length).toBe(invoicesBefore);
    expect((await view(s.userId)).next_invoice?.amount_due).toBe(up.next_invoice_amount);
    expect(await claimsOf(s.userId)).toMatchObject({ tier: "mobile" });

    const down = await previewChange(deps, s.userId, { tier: "local" }, policy);
    expect(down).toMatchObject({ effective: "now", amount_due_now: 0 });
    await changeSubscription(deps, TEST_ACTOR, s.userId, { tier: "local" }, policy);
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
