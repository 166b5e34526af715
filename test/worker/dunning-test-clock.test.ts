/**
 * Dunning of a customer on a Stripe test clock when the events reach the worker as in the running
 * system: Stripe sends a clock advance's events as a burst, one queue message each, and the
 * consumer processes them in order after storing them all. The invoice is then already fresher
 * than the failure's event, so the failure's sync fetches neither it nor its subscription or
 * customer: the case must still know the clock, or the tick looks for it on real time.
 */
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runCron } from "../../worker/src/cron";
import { dunningCases, entitlements } from "../../worker/src/db/schema";
import { svc } from "./helpers";
import { declineRenewal, deliverAsStripeDoes, emailsOf } from "./dunning-helpers";
import { db, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;
const caseOf = (customerId: string) => db().select().from(dunningCases).where(eq(dunningCases.customerId, customerId)).get();
const statusOf = async (userId: string) => (await db().select({ status: entitlements.status }).from(entitlements).where(eq(entitlements.userId, userId)).get())?.status;

/** Both crons, as the running system gets them (the scheduled handler runs exactly this). */
async function crons() {
  await runCron("* * * * *", svc());
  await runCron("*/15 * * * *", svc());
}

describe("dunning on a test clock, events delivered as Stripe sends them", () => {
  it("sends the day 3, 7 and 14 notices, retries the invoice and suspends on day 21 as the clock walks day by day", async () => {
    const s = stripe();
    const clock = await testClock();
    const { userId, customer, sub } = await subscriber({ testClock: clock.id });
    const ids = { customer: customer.id, sub: sub.id };
    const seen = await deliverAsStripeDoes(ids);
    await declineRenewal(clock, customer.id, sub);
    await deliverAsStripeDoes(ids, seen);
    const kase = await caseOf(customer.id);
    expect(kase).toMatchObject({ status: "open", testClock: clock.id });
    expect(await statusOf(userId)).toBe("past_due");

    const seenAt = new Map<number, { emails: string[]; status: string | undefined }>();
    for (let day = 1; day <= 22; day++) {
      await clock.advanceTo(kase!.anchorAt + day * DAY);
      await deliverAsStripeDoes(ids, seen);
      await crons();
      // The worker's retries are answered by events too.
      await deliverAsStripeDoes(ids, seen);
      await crons();
      seenAt.set(day, { emails: await emailsOf(kase!.id), status: await statusOf(userId) });
    }
    expect(seenAt.get(2)).toEqual({ emails: [], status: "past_due" });
    expect(seenAt.get(3)).toEqual({ emails: ["dunning_soft"], status: "past_due" });
    expect(seenAt.get(7)).toEqual({ emails: ["dunning_soft", "dunning_urgent"], status: "past_due" });
    expect(seenAt.get(14)).toEqual({ emails: ["dunning_final", "dunning_soft", "dunning_urgent"], status: "past_due" });
    expect(seenAt.get(20)).toEqual({ emails: ["dunning_final", "dunning_soft", "dunning_urgent"], status: "past_due" });
    expect(seenAt.get(21)).toEqual({ emails: ["dunning_final", "dunning_soft", "dunning_urgent", "suspended"], status: "suspended" });
    expect(seenAt.get(22)).toEqual(seenAt.get(21));
    expect((await s.invoices.retrieve(kase!.invoiceId)).attempt_count).toBeGreaterThan(1);
    expect(await caseOf(customer.id)).toMatchObject({ status: "suspended", stage: "suspended" });
  }, 120_000);

  it("gives a case stored without its clock the clock as soon as a sync learns the subscription's", async () => {
    const clock = await testClock();
    const { customer, sub } = await subscriber({ testClock: clock.id });
    const ids = { customer: customer.id, sub: sub.id };
    const seen = await deliverAsStripeDoes(ids);
    await declineRenewal(clock, customer.id, sub);
    await deliverAsStripeDoes(ids, seen);
    // As a worker from before the mirror kept clocks left it.
    await db().update(dunningCases).set({ testClock: null }).where(eq(dunningCases.customerId, customer.id));
    await stripe().subscriptions.update(sub.id, { metadata: { touched: "later" } });
    await deliverAsStripeDoes(ids, seen);
    expect(
      await db()
        .select({ testClock: dunningCases.testClock })
        .from(dunningCases)
        .where(and(eq(dunningCases.customerId, customer.id), eq(dunningCases.status, "open")))
        .get(),
    ).toEqual({ testClock: clock.id });
  }, 60_000);
});
