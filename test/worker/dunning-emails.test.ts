/**
 * The dunning emails' wording follows the facts, end to end: a past-due customer on a Stripe
 * test clock in the emulator, the failure delivered as signed webhooks, and the stage emails
 * written by the worker's own scheduled handler on the dunning cron. With no payment method on
 * file the email asks to add a card and never says a card was declined; a past-due notice never
 * mentions a trial, even to a customer whose trial is what ran out.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, like } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { dunningCases, emailOutbox } from "../../worker/src/db/schema";
import worker from "../../worker/src/index";
import { declineRenewal } from "./dunning-helpers";
import { db, deliverAll, ensurePrice, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;

/** The worker's scheduled handler, as Cloudflare runs it every 15 minutes. */
async function dunningCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/15 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** The case of a failed invoice, and a way to move the test clock to `days` after its anchor. */
async function openCase(clock: Awaited<ReturnType<typeof testClock>>, customerId: string) {
  const kase = await db().select().from(dunningCases).where(eq(dunningCases.customerId, customerId)).get();
  expect(kase).toMatchObject({ status: "open", stage: null });
  const at = async (days: number) => {
    const frozen = (await stripe().testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000;
    await clock.advanceDays((kase!.anchorAt + days * DAY - frozen) / DAY);
  };
  return { kase: kase!, at };
}

const emailsOf = (caseId: string) =>
  db()
    .select()
    .from(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `${caseId}:%`))
    .all();

/** A past-due notice to a customer without a card: "add a card" in its body, and nowhere a declined card or a trial. */
function expectAddACard(email: { subject: string; text: string; html: string }) {
  expect(email.text).toMatch(/add a card/i);
  expect(email.html).toMatch(/add a card/i);
  for (const part of [email.subject, email.text, email.html]) {
    expect(part).not.toMatch(/declined/i);
    expect(part).not.toMatch(/trial/i);
  }
}

describe("dunning emails: wording from the facts", () => {
  it("asks a past-due customer whose declined card was removed to add a card on day 3, never 'your card was declined'", async () => {
    const s = stripe();
    const clock = await testClock();
    const { customer, sub } = await subscriber({ testClock: clock.id });
    const ids = { customer: customer.id, sub: sub.id };
    const seen = await deliverAll(ids);
    await declineRenewal(clock, customer.id, sub);
    await deliverAll(ids, seen);
    const { kase, at } = await openCase(clock, customer.id);
    // The customer removes the declined card (the portal lets them) and adds none.
    for (const pm of (await s.paymentMethods.list({ customer: customer.id })).data) await s.paymentMethods.detach(pm.id);
    expect((await s.customers.retrieve(customer.id)) as { invoice_settings: { default_payment_method: unknown } }).toMatchObject({ invoice_settings: { default_payment_method: null } });
    await deliverAll(ids, seen);
    await at(2.9);
    await dunningCron();
    expect(await emailsOf(kase.id)).toEqual([]);
    await at(3.2);
    await dunningCron();
    await dunningCron(); // a repeated run sends nothing more
    const emails = await emailsOf(kase.id);
    expect(emails.map((e) => e.template)).toEqual(["dunning_soft"]);
    expect(emails[0]!.subject).toBe("Add a card to pay for Federal Job Advisor Local");
    expect(emails[0]!.text).toContain("There is no card on file for your Federal Job Advisor Local subscription, so the payment of $29.00 could not be collected.");
    expectAddACard(emails[0]!);
  }, 60_000);

  it("asks a customer whose trial ended without a card to add one on day 3, and the past-due notice never mentions the trial", async () => {
    const s = stripe();
    const clock = await testClock();
    const userId = `user_dn_${Date.now().toString(36)}`;
    const price = await ensurePrice("local_monthly");
    // No card at all: Stripe's default at the trial's end is to invoice anyway (missing_payment_method: create_invoice).
    const customer = await s.customers.create({ email: `${userId}@example.test`, metadata: { user_id: userId }, test_clock: clock.id });
    const sub = await s.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], trial_period_days: 7, metadata: { user_id: userId, tier: "local" } });
    const ids = { customer: customer.id, sub: sub.id };
    const seen = await deliverAll(ids);
    await clock.advanceDays(7.1);
    await deliverAll(ids, seen);
    expect((await s.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    const { kase, at } = await openCase(clock, customer.id);
    await at(3.2);
    await dunningCron();
    const emails = await emailsOf(kase.id);
    expect(emails.map((e) => e.template)).toEqual(["dunning_soft"]);
    expectAddACard(emails[0]!);
    // The later stages say the same: day 7 (urgent) and day 14 (final notice).
    await at(7.2);
    await dunningCron();
    await at(14.2);
    await dunningCron();
    const all = await emailsOf(kase.id);
    expect(all.map((e) => e.template).sort()).toEqual(["dunning_final", "dunning_soft", "dunning_urgent"]);
    for (const e of all) expectAddACard(e);
  }, 60_000);
});
