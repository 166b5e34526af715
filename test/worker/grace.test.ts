import { entitlementOf } from "./dunning-helpers";
import { env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ingest } from "../../worker/src/stripe-sync/ingest";
import { processEvent } from "../../worker/src/stripe-sync/process";
import { runCron } from "../../worker/src/cron";
import { auditLog, entitlements } from "../../worker/src/db/schema";
import { noEntitlement, setEntitlementState } from "../../worker/src/entitlements/state";
import { svc, TEST_ACTOR } from "./helpers";
import { db, deliverAll, ensurePrice, eventsFor, stripe, subscriber, testClock, webhookEvent } from "./stripe-helpers";

const DAY = 86_400_000;

describe("grace after a failed payment", () => {
  it("keeps a user who paid for the period past due for 21 days after a failed mid-period upgrade, and starts a new grace for a later invoice", async () => {
    const s = stripe();
    const clock = await testClock();
    const { userId, customer, sub } = await subscriber({ testClock: clock.id });
    const seen = new Set<string>();
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    expect((await entitlementOf(userId))?.status).toBe("active");

    // Day 25 of the month: the card now declines, and the upgrade's prorated invoice fails.
    await clock.advanceDays(25);
    const declining = await s.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: declining.id } });
    const mobile = await ensurePrice("mobile_monthly");
    const current = await s.subscriptions.retrieve(sub.id);
    await s.subscriptions.update(sub.id, { items: [{ id: current.items.data[0]!.id, price: mobile.id }], proration_behavior: "always_invoice" });
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    expect((await s.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    const [failure] = (await eventsFor([customer.id, sub.id, ...(await s.invoices.list({ customer: customer.id })).data.map((i) => i.id)])).filter((e) => e.type === "invoice.payment_failed");
    const failedAt = failure!.created * 1000;
    const pastDue = await entitlementOf(userId);
    expect(pastDue).toMatchObject({ status: "past_due", tier: "mobile", graceUntil: failedAt + 21 * DAY, suspendedAt: null });

    // Paid with a working card: the grace ends with the debt.
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: working.id } });
    await s.invoices.pay((failure!.data.object as { id: string }).id);
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    expect(await entitlementOf(userId)).toMatchObject({ status: "active", graceUntil: null });

    // The renewal a month on fails: a new grace from that failure, not from the first one.
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: declining.id } });
    const renewal = (await s.subscriptions.retrieve(sub.id)).items.data[0]!.current_period_end * 1000;
    // Past the renewal and the hour Stripe waits to charge it (a month has 28 to 31 days).
    await clock.advanceTo(renewal + 2 * 3_600_000);
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    const renewalFailure = (await eventsFor([...(await s.invoices.list({ customer: customer.id })).data.map((i) => i.id)])).filter((e) => e.type === "invoice.payment_failed").at(-1)!;
    expect(renewalFailure.id).not.toBe(failure!.id);
    expect(await entitlementOf(userId)).toMatchObject({ status: "past_due", graceUntil: renewalFailure.created * 1000 + 21 * DAY });
  }, 60_000);
});

describe("grace anchored on the oldest unpaid invoice whatever order the events are processed in", () => {
  it("moves the grace back to the first failure of an older unpaid invoice when that failure's event is processed after the objects were synced from later events", async () => {
    const s = stripe();
    const clock = await testClock();
    const { userId, customer, sub } = await subscriber({ testClock: clock.id });
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    const declining = await s.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: declining.id } });
    // Two renewals fail a month apart; nothing is paid (62.5 days pass any two months and the hour Stripe waits to charge).
    await clock.advanceDays(31.25);
    await clock.advanceDays(31.25);
    const invoiceIds = (await s.invoices.list({ customer: customer.id, limit: 100 })).data.map((i) => i.id);
    const fresh = (await eventsFor([customer.id, sub.id, ...invoiceIds])).filter((e) => !seen.has(e.id));
    const failures = fresh.filter((e) => e.type === "invoice.payment_failed");
    const first = failures[0]!;
    expect(new Set(failures.map((e) => (e.data.object as { id: string }).id)).size).toBe(2); // both renewals failed
    // All stored on arrival (a burst), then processed with the first failure last, as a busy
    // queue may: every object it names was fetched after it arrived, so the sync skips them.
    const arrived = Date.now();
    await ingest(
      svc(),
      fresh.map((e) => webhookEvent(e, { receivedAt: arrived })),
    );
    for (const e of fresh.filter((e) => e.id !== first.id)) await processEvent(svc(), e.id);
    // As an invoice written before its customer was linked to a user keeps: no user of its own.
    await env.DB.prepare("update invoices set user_id = null where customer_id = ?").bind(customer.id).run();
    await processEvent(svc(), first.id);
    const anchor = first.created * 1000;
    // The clock is 31 days past that first failure: on the customer's time the grace is over.
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", graceUntil: anchor + 21 * DAY });
  }, 60_000);
});

describe("suspension when the grace runs out", () => {
  it("stores suspended with suspended_at at the end of the grace, audited once, when the cron finds it", async () => {
    const userId = `user_lapsed_${Date.now()}`;
    const graceUntil = Date.now() - 60_000;
    await setEntitlementState(svc(), { ...noEntitlement(userId), customerId: "cus_lapsed", subscriptionId: "sub_lapsed", tier: "local", status: "past_due", graceUntil }, TEST_ACTOR);
    await runCron("* * * * *", svc());
    await runCron("* * * * *", svc());
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", suspendedAt: graceUntil, graceUntil });
    const audit = await db().select().from(auditLog).where(eq(auditLog.subjectId, userId)).orderBy(asc(auditLog.seq)).all();
    expect(audit.map((a) => a.action)).toEqual(["entitlement.set", "entitlement.suspended"]);
    expect(JSON.parse(audit[1]!.after!)).toMatchObject({ status: "suspended", suspended_at: graceUntil });
  });

  it("leaves a user whose grace is still running past due", async () => {
    const userId = `user_in_grace_${Date.now()}`;
    await setEntitlementState(svc(), { ...noEntitlement(userId), tier: "local", status: "past_due", graceUntil: Date.now() + DAY }, TEST_ACTOR);
    await runCron("* * * * *", svc());
    expect((await entitlementOf(userId))?.status).toBe("past_due");
  });
});
