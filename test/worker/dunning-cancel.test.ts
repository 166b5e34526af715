import { env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { dunningSteps, emailOutbox } from "../../worker/src/db/schema";
import { dunningPolicy, withOverrides } from "../../worker/src/dunning/policy";
import { dunningTick } from "../../worker/src/dunning/tick";
import { formatDate } from "../../worker/src/email/templates";
import { call, makeKey, svc } from "./helpers";
import { caseOf, emailsOf, entitlementOf, failedRenewal } from "./dunning-helpers";
import { db, deliverAll } from "./stripe-helpers";

const stepsOf = async (id: string) =>
  (await db().select({ step: dunningSteps.step, outcome: dunningSteps.outcome }).from(dunningSteps).where(eq(dunningSteps.caseId, id)).orderBy(asc(dunningSteps.step)).all()).map(
    (s) => `${s.step}:${s.outcome}`,
  );

/** The default policy's cancellation day, counted from the first failure (the case's anchor). */
const suspensionDay = dunningPolicy.stages.find((s) => s.stage === "suspended")!.day;

describe("a subscription still unpaid after the suspension", () => {
  it("is cancelled by default before a monthly subscription's next renewal, so a suspended customer is never invoiced for a month without access", () => {
    expect(dunningPolicy.cancelAfterSuspensionDays).not.toBeNull();
    // The shortest month has 28 days: cancelling by day 27 after the failed renewal comes before the next one.
    expect(suspensionDay + dunningPolicy.cancelAfterSuspensionDays!).toBeLessThan(28);
  });

  it("on a test clock: is cancelled in Stripe on the policy's day, its open invoices marked uncollectible, the customer told once, and a new checkout is accepted", async () => {
    const { s, kase, at, ids, seen, userId, customer, clock } = await failedRenewal();
    const cancelDay = suspensionDay + dunningPolicy.cancelAfterSuspensionDays!;
    for (const day of [1.1, 3.1, 7.1, 14.1, 21.1]) {
      await at(day);
      await dunningTick(svc());
      await deliverAll(ids, seen);
    }
    expect(await caseOf(kase.id)).toMatchObject({ status: "suspended", nextActionAt: kase.anchorAt + cancelDay * 86_400_000 });
    expect((await entitlementOf(userId))?.status).toBe("suspended");
    const suspendedEmail = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${kase.id}:suspended`))
      .get();
    expect(suspendedEmail?.text).toContain(`Unless it is paid by ${formatDate(kase.anchorAt + cancelDay * 86_400_000)}`);

    // The day before: still past_due in Stripe, nothing cancelled.
    await at(cancelDay - 0.1);
    await dunningTick(svc());
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("past_due");

    await at(cancelDay + 0.1);
    // Two ticks after one another (and any later one) act once.
    const first = await dunningTick(svc());
    const second = await dunningTick(svc());
    expect([...first.done, ...second.done].filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:subscription_canceled`]);
    const sub = await s.subscriptions.retrieve(kase.subscriptionId);
    expect(sub.status).toBe("canceled");
    const invoices = (await s.invoices.list({ subscription: kase.subscriptionId, limit: 100 })).data;
    expect(invoices.filter((i) => i.status === "open")).toEqual([]);
    expect((await s.invoices.retrieve(kase.invoiceId)).status).toBe("uncollectible");

    await deliverAll(ids, seen);
    await dunningTick(svc());
    expect(await caseOf(kase.id)).toMatchObject({ status: "canceled", nextActionAt: null });
    expect(await stepsOf(kase.id)).toContain("subscription_canceled:done");
    expect((await emailsOf(kase.id)).filter((t) => t === "subscription_canceled")).toEqual(["subscription_canceled"]);
    const email = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${kase.id}:subscription_canceled`))
      .get();
    expect(email?.to).toBe(customer.email);
    expect(email?.text).toContain("$29.00");
    expect((await entitlementOf(userId))?.status).toBe("canceled");

    // Coming back: a new checkout for the same user (and the same customer, on its clock) is accepted.
    const key = (await makeKey("service")).key;
    const res = await call("POST", "/v1/checkout", { key, body: { user_id: userId, email: customer.email, tier: "local", test_clock: clock.id } });
    expect(res.status, await res.clone().text()).toBe(201);
    const session = await res.json<{ session_id: string; trial_days: number }>();
    expect(session.trial_days).toBe(0);
    expect((await s.checkout.sessions.retrieve(session.session_id)).customer).toBe(customer.id);
  }, 120_000);

  it("stays past_due when the policy keeps it (cancelAfterSuspensionDays null); the migration makes such a case due again, and the tick then cancels it only under a policy that cancels", async () => {
    const { s, kase, at, ids, seen, userId } = await failedRenewal();
    const keep = withOverrides(svc().dunning, { cancelAfterSuspensionDays: null });
    await at(21.1);
    await dunningTick(svc(), keep);
    await deliverAll(ids, seen);
    expect(await caseOf(kase.id)).toMatchObject({ status: "suspended", nextActionAt: null });
    await at(40);
    await dunningTick(svc(), keep);
    await deliverAll(ids, seen);
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("past_due");
    // Kept past_due, Stripe bills the next month too: two open invoices now.
    expect((await s.invoices.list({ subscription: kase.subscriptionId, status: "open" })).data.length).toBe(2);
    expect(await emailsOf(kase.id)).not.toContain("subscription_canceled");
    expect((await entitlementOf(userId))?.status).toBe("suspended");

    // The migration's statement, limited to this test's case (the D1 is shared with other files).
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("suspended_dunning_cases_due_for_cancellation"));
    expect(migration?.queries.length).toBe(1);
    const makeDue = () =>
      env.DB.prepare(migration!.queries[0]!.trim().replace(/;$/, "") + " AND `id` = ?")
        .bind(kase.id)
        .run();
    await makeDue();
    expect((await caseOf(kase.id))?.nextActionAt).toBe((await caseOf(kase.id))?.closedAt);
    // Under the keeping policy the case goes back to no next action, and nothing is cancelled.
    await dunningTick(svc(), keep);
    expect(await caseOf(kase.id)).toMatchObject({ status: "suspended", nextActionAt: null });
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("past_due");

    // Under the default policy, long past its cancellation day: cancelled, every open invoice uncollectible.
    await makeDue();
    const done = await dunningTick(svc());
    expect(done.done.filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:subscription_canceled`]);
    expect((await s.subscriptions.retrieve(kase.subscriptionId)).status).toBe("canceled");
    const invoices = (await s.invoices.list({ subscription: kase.subscriptionId, limit: 100 })).data;
    expect(invoices.filter((i) => i.status === "open")).toEqual([]);
    expect(invoices.filter((i) => i.status === "uncollectible").length).toBe(2);
  }, 120_000);
});

describe("GET /v1/subscriptions/{user_id} while the payment is due", () => {
  it("says past due with the amount and the pay link, then suspended from day 21 with the same, and neither once paid", async () => {
    const { s, kase, at, ids, seen, userId, customer } = await failedRenewal();
    const key = (await makeKey("service")).key;
    const view = async () => {
      const res = await call("GET", `/v1/subscriptions/${userId}`, { key });
      expect(res.status, await res.clone().text()).toBe(200);
      return res.json<{ status: string; suspended: boolean; unpaid_invoice: { invoice_id: string; amount_due: number; currency: string; hosted_invoice_url: string | null } | null }>();
    };
    const invoice = await s.invoices.retrieve(kase.invoiceId);
    expect(invoice.hosted_invoice_url).toMatch(/^https?:\/\//);
    const due = { invoice_id: kase.invoiceId, amount_due: 2900, currency: "usd", hosted_invoice_url: invoice.hosted_invoice_url };

    await at(3.1);
    await dunningTick(svc());
    await deliverAll(ids, seen);
    expect(await view()).toMatchObject({ status: "past_due", suspended: false, unpaid_invoice: due });

    await at(21.1);
    await dunningTick(svc());
    await deliverAll(ids, seen);
    expect((await entitlementOf(userId))?.status).toBe("suspended");
    expect(await view()).toMatchObject({ status: "past_due", suspended: true, unpaid_invoice: due });

    const card = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.invoices.pay(kase.invoiceId, { payment_method: card.id });
    await deliverAll(ids, seen);
    expect(await view()).toMatchObject({ status: "active", suspended: false, unpaid_invoice: null });
  }, 120_000);
});
