import { env } from "cloudflare:test";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runCron } from "../../worker/src/cron";
import { dunningCases, dunningSteps, emailOutbox } from "../../worker/src/db/schema";
import { dunningTick } from "../../worker/src/dunning/tick";
import { call, makeKey, svc } from "./helpers";
import { emailsOf, entitlementOf, failedRenewal } from "./dunning-helpers";
import { db, deliverAll, stripe } from "./stripe-helpers";

const DAY = 86_400_000;
const DUNNING_CRON = "*/15 * * * *";

const tick = () => runCron(DUNNING_CRON, svc());

describe("dunning", () => {
  it("a renewal declined on day 0 gets the day 3, 7 and 14 emails and suspension on day 21, never earlier, as the test clock moves in uneven steps", async () => {
    const { kase, at, userId, ids, seen } = await failedRenewal();
    expect(kase.declineCode).toBe("generic_decline");
    const steps: [number, string[]][] = [
      [2.9, []],
      [3.2, ["dunning_soft"]],
      [6.99, ["dunning_soft"]],
      [9.5, ["dunning_soft", "dunning_urgent"]],
      [13.9, ["dunning_soft", "dunning_urgent"]],
      [14.1, ["dunning_final", "dunning_soft", "dunning_urgent"]],
      [20.95, ["dunning_final", "dunning_soft", "dunning_urgent"]],
    ];
    for (const [day, expected] of steps) {
      await at(day);
      await tick();
      await tick(); // a repeated tick changes nothing
      expect(await emailsOf(kase.id), `day ${day}`).toEqual(expected);
    }
    expect((await entitlementOf(userId))?.status).toBe("past_due");
    await at(21.3);
    await tick();
    expect(await emailsOf(kase.id)).toEqual(["dunning_final", "dunning_soft", "dunning_urgent", "suspended"]);
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", suspendedAt: kase.anchorAt + 21 * DAY });
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "suspended", stage: "suspended", nextActionAt: kase.anchorAt + 27 * DAY });
    const urgent = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${kase.id}:dunning_urgent`))
      .get();
    expect(urgent?.subject).toContain("$29.00");
    // A later event about the still-unpaid subscription (reckoned on real time, which the test
    // clock ran ahead of) leaves the user suspended.
    await stripe().subscriptions.update(kase.subscriptionId, { metadata: { touched: "after-suspension" } });
    await deliverAll(ids, seen);
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", suspendedAt: kase.anchorAt + 21 * DAY });
  }, 60_000);

  it("payment on day 10 closes the case as recovered, sends the recovery email once and stops every later stage", async () => {
    const { s, kase, at, ids, seen, customer, userId } = await failedRenewal();
    await at(3.5);
    await tick();
    await at(10);
    const working = await s.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await s.customers.update(customer.id, { invoice_settings: { default_payment_method: working.id } });
    await s.invoices.pay(kase.invoiceId);
    await deliverAll(ids, seen);
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "recovered", stage: "dunning_soft", nextActionAt: null });
    expect((await entitlementOf(userId))?.status).toBe("active");
    await at(22);
    await tick();
    expect(await emailsOf(kase.id)).toEqual(["dunning_soft", "payment_recovered"]);
    expect((await entitlementOf(userId))?.status).toBe("active");
  }, 60_000);

  it("two ticks racing on separate D1 handles after a jump over two stages and three retries make one retry and send only the latest stage, once, and record what they passed over", async () => {
    const { s, kase, at } = await failedRenewal();
    const attemptsBefore = (await s.invoices.retrieve(kase.invoiceId)).attempt_count;
    await at(8);
    const [a, b] = await Promise.all([dunningTick(svc()), dunningTick(svc(undefined, env.DB_RACE))]);
    const mine = (r: { done: string[] }) => r.done.filter((k) => k.startsWith(kase.id));
    expect([...mine(a), ...mine(b)]).toEqual([`${kase.id}:dunning_urgent`]);
    expect([...a.retried, ...b.retried].filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:retry_3:declined`]);
    // One attempt at Stripe: the second tick's call replays the first's under the same idempotency key.
    expect((await s.invoices.retrieve(kase.invoiceId)).attempt_count).toBe(attemptsBefore + 1);
    expect(await emailsOf(kase.id)).toEqual(["dunning_urgent"]);
    const steps = await db().select({ step: dunningSteps.step, outcome: dunningSteps.outcome }).from(dunningSteps).where(eq(dunningSteps.caseId, kase.id)).orderBy(asc(dunningSteps.step)).all();
    expect(steps).toEqual([
      { step: "dunning_soft", outcome: "skipped" },
      { step: "dunning_urgent", outcome: "done" },
      { step: "retry_1", outcome: "skipped" },
      { step: "retry_2", outcome: "skipped" },
      { step: "retry_3", outcome: "declined" },
    ]);
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "open", stage: "dunning_urgent", nextActionAt: kase.anchorAt + 14 * DAY });
  }, 60_000);

  it("two ticks whose clocks fall either side of a retry day, racing on one case, make one attempt at Stripe", async () => {
    const { s, kase } = await failedRenewal();
    // On wall time (no test clock), so each tick's own clock decides which retry is due: retry 1
    // (overdue since day 1) a minute before day 3, retry 2 a minute after.
    await db().update(dunningCases).set({ testClock: null }).where(eq(dunningCases.id, kase.id));
    const attemptsBefore = (await s.invoices.retrieve(kase.invoiceId)).attempt_count;
    // The first tick writes nothing until the second has run: both act on the case as it was.
    let release!: () => void;
    let reached!: () => void;
    const secondDone = new Promise<void>((r) => (release = r));
    const firstWaits = new Promise<void>((r) => (reached = r));
    const held = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch")
          return async (stmts: D1PreparedStatement[]) => {
            reached();
            await secondDone;
            return target.batch(stmts);
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const first = dunningTick(svc(kase.anchorAt + 3 * DAY - 60_000, held));
    // By its first write the first tick has read the due cases.
    await firstWaits;
    const second = await dunningTick(svc(kase.anchorAt + 3 * DAY + 60_000, env.DB_RACE));
    release();
    const firstResult = await first;
    expect([...firstResult.retried, ...second.retried].filter((k) => k.startsWith(kase.id))).toEqual([`${kase.id}:retry_2:declined`]);
    expect((await s.invoices.retrieve(kase.invoiceId)).attempt_count).toBe(attemptsBefore + 1);
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "open", retries: 2 });
  }, 60_000);

  it("moves a case whose customer's address the outbox refuses, without its email, and still sends the other cases' emails", async () => {
    const bad = await failedRenewal();
    const good = await failedRenewal();
    await bad.s.customers.update(bad.customer.id, { email: "ops@localhost" });
    await bad.at(3.2);
    await good.at(3.2);
    await tick();
    expect(await emailsOf(bad.kase.id)).toEqual([]);
    expect((await db().select().from(dunningCases).where(eq(dunningCases.id, bad.kase.id)).get())?.stage).toBe("dunning_soft");
    expect(await emailsOf(good.kase.id)).toEqual(["dunning_soft"]);
  }, 60_000);

  it("a hard decline gets the 'use another card' email at once, before any tick", async () => {
    const { kase } = await failedRenewal("pm_card_chargeDeclinedStolenCard");
    expect(kase.declineCode).toBe("stolen_card");
    const email = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${kase.id}:hard_decline`))
      .get();
    expect(email).toMatchObject({ template: "hard_decline" });
    expect(email?.subject).toContain("another card");
  }, 60_000);

  it("a subscription canceled during dunning closes its case: nothing more is sent", async () => {
    const { s, kase, at, ids, seen, sub } = await failedRenewal();
    await at(4);
    await tick();
    await s.subscriptions.cancel(sub.id);
    await deliverAll(ids, seen);
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "canceled", nextActionAt: null });
    await at(15);
    await tick();
    expect(await emailsOf(kase.id)).toEqual(["dunning_soft"]);
  }, 60_000);

  it("GET /v1/dunning lists open cases with their next action and recovery rates by stage and decline code", async () => {
    const { key } = await makeKey("analyst");
    const res = await call("GET", "/v1/dunning?limit=100", { key });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      open: { id: string; next_action: string | null; next_action_at: string | null }[];
      recovery_by_stage: { stage: string; cases: number; recovered: number; rate: number }[];
      recovery_by_decline_code: { decline_code: string }[];
    };
    expect(body.open.length).toBeGreaterThan(0);
    for (const o of body.open) expect(o.next_action === null || typeof o.next_action_at === "string").toBe(true);
    // The recovered case of the day-10 test reached dunning_soft.
    expect(body.recovery_by_stage.find((r) => r.stage === "dunning_soft")?.recovered).toBeGreaterThanOrEqual(1);
    expect(body.recovery_by_decline_code.map((r) => r.decline_code)).toEqual(expect.arrayContaining(["generic_decline", "stolen_card"]));
    expect((await call("GET", "/v1/dunning?limit=0", { key })).status).toBe(400);
  });
});
