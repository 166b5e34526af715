/**
 * The subscription lifecycle end to end: the worker's API (workerd) and the Stripe emulator over
 * HTTP, each subscriber on its own test clock, every Stripe event delivered as a signed webhook.
 * Amounts are checked against the official client's own invoice preview and against the
 * arithmetic Stripe uses (time-based proration, each line rounded on its own; tax 7.25 %).
 */
import { env } from "cloudflare:test";
import { and, desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { requestCancellation, type OfferView } from "../../worker/src/subscriptions/cancel";
import type { CancelResultWire as CancelResult, SubscriptionWire as SubscriptionView } from "../../worker/src/presenters/subscription";
import { catalog } from "../../worker/src/catalog";
import { cancellationRequests, retentionOffers, subscriptions } from "../../worker/src/db/schema";
import { gatedD1 } from "./gated-d1";
import { call, makeKey, rfc3339, svc, TEST_ACTOR } from "./helpers";
import { claimsOf, DAY, entitlementOf, expectProblem, makeKeys, ok, paying, period, post, snapshot, tax, trialing, useDecliningCard, view } from "./lifecycle-helpers";
import { db, stripe } from "./stripe-helpers";

beforeAll(makeKeys);

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
    expect(await db().select().from(cancellationRequests).where(eq(cancellationRequests.userId, s.userId)).all()).toMatchObject([
      { reason: "too_expensive", feedback: "Too much for me right now", outcome: "offered", offerId: offer.id },
    ]);

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
    const after = (await stripe().subscriptions.retrieve(s.sub, { expand: ["discounts"] })).discounts.map((d) =>
      typeof d === "string" ? { id: d, coupon: null } : { id: d.id, coupon: d.source.coupon && typeof d.source.coupon !== "string" ? d.source.coupon.id : d.source.coupon },
    );
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
    expect(second).toEqual({ canceled: true, cancel_at: rfc3339(end) });
    const offerId = (first as { offer: OfferView }).offer.id;
    expect((await db().select().from(retentionOffers).where(eq(retentionOffers.id, offerId)).get())?.status).toBe("declined");
    const requests = await db().select().from(cancellationRequests).where(eq(cancellationRequests.userId, s.userId)).orderBy(desc(cancellationRequests.id)).all();
    expect(requests[0]).toMatchObject({ outcome: "canceled", reason: "missing_features", feedback: "no federal pay scale filter", cancelAt: end * 1000 });
    expect(await view(s.userId)).toMatchObject({ cancel_at_period_end: true, cancel_at: rfc3339(end) });
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
    const b = requestCancellation(svc(undefined, gate.d1), TEST_ACTOR, s.userId, { reason: "too_expensive" });
    gate.allow(3);
    await gate.reached(4);
    const a = await requestCancellation(svc(undefined, env.DB), TEST_ACTOR, s.userId, { reason: "unused" });
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

  it("a malformed body on resume is refused with 400 and the paused subscription stays paused", async () => {
    const s = await paying("local");
    await ok(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    const { key } = await makeKey("service");
    for (const rawBody of ["{not json", "{}"]) {
      await expectProblem(await call("POST", `/v1/subscriptions/${s.userId}/resume`, { key, rawBody, headers: { "content-type": "application/json" } }), 400, "body_not_allowed", "body");
    }
    expect((await stripe().subscriptions.retrieve(s.sub)).pause_collection).not.toBeNull();
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "paused" });
  });

  it("resuming after a renewal voided during the pause starts a new period now and charges it at once, instead of giving the rest of the unpaid period away", async () => {
    const s = await paying("local");
    await ok(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    await s.clock.advanceDays(40);
    await s.sync();
    const frozen = (await stripe().testHelpers.testClocks.retrieve(s.clock.id)).frozen_time;
    await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/resume`));
    const sub = await stripe().subscriptions.retrieve(s.sub);
    expect(sub.items.data[0]).toMatchObject({ current_period_start: frozen });
    expect(sub.items.data[0]!.current_period_end - frozen).toBeGreaterThanOrEqual(28 * DAY);
    const [latest] = (await stripe().invoices.list({ subscription: s.sub, limit: 1 })).data;
    expect(latest).toMatchObject({ billing_reason: "subscription_update", status: "paid", amount_paid: 2900 + tax(2900) });
    // The mirror has the new period and the paid invoice as soon as the call returns.
    expect(await db().select().from(subscriptions).where(eq(subscriptions.id, s.sub)).get()).toMatchObject({ currentPeriodStart: frozen * 1000 });
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "active" });
  });

  it("resuming within the period already paid charges nothing and keeps the period", async () => {
    const s = await paying("local");
    const before = await stripe().subscriptions.retrieve(s.sub);
    await ok(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    await s.clock.advanceDays(5);
    await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/resume`));
    const after = await stripe().subscriptions.retrieve(s.sub);
    expect(after.items.data[0]!.current_period_start).toBe(before.items.data[0]!.current_period_start);
    expect(after.latest_invoice).toBe(before.latest_invoice);
  });

  it("a declined card at a resume that must charge the new period answers 402 and leaves the subscription paused", async () => {
    const s = await paying("local");
    await ok(await post(`/v1/subscriptions/${s.userId}/pause`, {}));
    await s.clock.advanceDays(40);
    await s.sync();
    await useDecliningCard(s);
    const before = await stripe().subscriptions.retrieve(s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/resume`), 402, "payment_failed", "path.user_id");
    const after = await stripe().subscriptions.retrieve(s.sub);
    expect(after.pause_collection).toMatchObject({ behavior: "void" });
    expect(after.items.data[0]!.current_period_start).toBe(before.items.data[0]!.current_period_start);
    expect(await entitlementOf(s.userId)).toMatchObject({ status: "paused" });
  });

  it("keeps a paused user's features when the policy says so", async () => {
    const { grants } = await import("../../worker/src/entitlements/claims");
    const state = {
      userId: "u",
      customerId: null,
      subscriptionId: null,
      tier: "local",
      status: "paused" as const,
      trialEnd: null,
      graceUntil: null,
      suspendedAt: null,
      currentPeriodEnd: null,
      orgId: null,
    };
    expect(grants(state).features).toEqual([]);
    expect(grants(state, { ...catalog, policy: { ...catalog.policy, paused_keeps_access: true } }).features).toEqual(catalog.tiers[0]!.features);
  });

  it("refuses to pause a trial or a past-due subscription with 409, pausing nothing", async () => {
    const t = await trialing("local");
    const before = await snapshot(t.userId, t.sub);
    await expectProblem(await post(`/v1/subscriptions/${t.userId}/pause`, {}), 409, "conflict", "path.user_id");
    expect(await snapshot(t.userId, t.sub)).toEqual(before);
  });

  it("refuses a resume_at in the past, or one that is not an RFC 3339 time, with 400 naming body.resume_at, pausing nothing", async () => {
    const s = await paying("local");
    const before = await snapshot(s.userId, s.sub);
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/pause`, { resume_at: "1970-01-12T13:46:40Z" }), 400, "validation_failed", "body.resume_at");
    await expectProblem(await post(`/v1/subscriptions/${s.userId}/pause`, { resume_at: Math.floor(Date.now() / 1000) + 86_400 }), 400, "validation_failed", "body.resume_at");
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
    await useDecliningCard(s);
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
