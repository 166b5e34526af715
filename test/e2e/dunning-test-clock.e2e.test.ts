/**
 * Issue 22's acceptance, against the system `npm start` runs: the worker in workerd with its real
 * queue, the Stripe emulator over HTTP sending signed webhooks as they happen (a clock advance's
 * events arrive as a burst, one queue message each), and both crons run after every step the way
 * the running system gets them (over HTTP, as npm start runs them). A subscriber on a test clock whose renewal
 * fails is walked through days 1-22 after the failure: the day 3, 7 and 14 emails, the worker's
 * retries, access lost on day 21 everywhere at once; then paying restores it with one email.
 */
import { decodeJwt } from "jose";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import type { CRONS } from "../../worker/src/cron.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;
let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  // As npm start starts and provisions it (the catalog's prices, Stripe's hour before a renewal is charged).
  system = await startSystem({ secretKey: "sk_test_dunning_clock", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const runCron = (name: keyof typeof CRONS) => system.runCron(name);
const settle = (opts?: { sweep?: boolean }) => system.settle(opts);

/** Both crons after a step. */
async function crons() {
  await runCron("sweep");
  await runCron("dunning");
  await settle();
}

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

async function api<T>(method: string, path: string, json?: unknown): Promise<T> {
  const res = await worker.request(path, { method, key: worker.serviceKey, ...(json !== undefined ? { json } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** What the three ways of asking say about the user's access: the online check, a fresh token, the stored row. */
async function access(userId: string) {
  const online = await api<{ status: string; features: string[] }>("GET", `/v1/entitlements/${userId}`);
  const check = await api<{ allowed: boolean }>("POST", "/v1/entitlements/check", { user_id: userId, feature: "local_job_search" });
  const claims = decodeJwt((await api<{ token: string }>("POST", "/v1/entitlements/token", { user_id: userId })).token) as { status: string; features: string[] };
  const stored = await worker.db.prepare("select status from entitlements where user_id = ?").bind(userId).first<{ status: string }>();
  return { online: online.status, allowed: check.allowed, token: claims.status, tokenGrants: claims.features.includes("local_job_search"), stored: stored?.status };
}

async function emails(userId: string, prefix: string) {
  const rows = await worker.db
    .prepare("select template, status from email_outbox where user_id = ? and idempotency_key like ? order by created_at")
    .bind(userId, `${prefix}%`)
    .all<{ template: string; status: string }>();
  return rows.results;
}

/** Subscribers signed up together on one clock: a renewal's burst of webhooks is more than the consumer processes in one run, as in the seeded system. */
const COHORT = 6;

/** Signed up as a new user does: the worker's checkout on the clock, paid on Checkout's page. */
async function signUp(userId: string, clock: string) {
  const session = await api<{ session_id: string }>("POST", "/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: clock });
  const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.session_id}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Clock Subscriber", "address[country]": "US", "address[state]": "VA", "address[postal_code]": "22201" }).toString(),
  });
  expect(paid.status).toBe(200);
  const { customer, subscription } = await stripe.checkout.sessions.retrieve(session.session_id);
  return { userId, customerId: customer as string, subId: subscription as string };
}

describe("dunning on a test clock in the running system", () => {
  it("subscribers whose renewal fails get the day 3, 7 and 14 emails and the worker's retries, lose access on day 21 everywhere, and paying restores it at once with one email", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const run = Date.now().toString(36);
    const users = [];
    for (let i = 0; i < COHORT; i++) users.push(await signUp(`clock_${run}_${i}`, clock.id));
    await settle();

    // Past the trial, paid; then every card starts declining a day before the renewal.
    const first = await stripe.subscriptions.retrieve(users[0]!.subId);
    await advanceTo(clock.id, first.trial_end! * 1000 + 2 * 3_600_000);
    const active = await stripe.subscriptions.retrieve(users[0]!.subId);
    expect(active.status).toBe("active");
    const renewal = active.items.data[0]!.current_period_end * 1000;
    await advanceTo(clock.id, renewal - DAY);
    for (const u of users) {
      const declining = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: u.customerId });
      await stripe.customers.update(u.customerId, { invoice_settings: { default_payment_method: declining.id } });
      await stripe.subscriptions.update(u.subId, { default_payment_method: declining.id });
    }
    await settle();
    await advanceTo(clock.id, renewal + 2 * 3_600_000);
    await crons();

    const stillIn = { online: "past_due", allowed: true, token: "past_due", tokenGrants: true, stored: "past_due" };
    const shutOut = { online: "suspended", allowed: false, token: "suspended", tokenGrants: false, stored: "suspended" };
    const failures = (await stripe.events.list({ type: "invoice.payment_failed", limit: 100 })).data;
    const cases: (Awaited<ReturnType<typeof signUp>> & { invoiceId: string; caseKey: string })[] = [];
    for (const u of users) {
      const [invoice] = (await stripe.invoices.list({ customer: u.customerId, status: "open" })).data;
      expect(invoice?.attempt_count).toBe(1);
      expect((await stripe.subscriptions.retrieve(u.subId)).status).toBe("past_due");
      expect(await access(u.userId)).toEqual(stillIn);
      cases.push({ ...u, invoiceId: invoice!.id, caseKey: `dun_${invoice!.id}:` });
    }
    const failedAt = Math.max(...failures.filter((e) => cases.some((c) => c.invoiceId === (e.data.object as Stripe.Invoice).id)).map((e) => e.created * 1000));

    const byDay = new Map<number, { emails: string[]; access: Awaited<ReturnType<typeof access>> }[]>();
    for (let day = 1; day <= 22; day++) {
      await advanceTo(clock.id, failedAt + day * DAY);
      await crons();
      const seen = [];
      for (const c of cases) seen.push({ emails: (await emails(c.userId, c.caseKey)).map((e) => e.template), access: await access(c.userId) });
      byDay.set(day, seen);
    }
    const all = (x: { emails: string[]; access: Awaited<ReturnType<typeof access>> }) => cases.map(() => x);
    expect(byDay.get(2)).toEqual(all({ emails: [], access: stillIn }));
    expect(byDay.get(3)).toEqual(all({ emails: ["dunning_soft"], access: stillIn }));
    expect(byDay.get(6)).toEqual(all({ emails: ["dunning_soft"], access: stillIn }));
    expect(byDay.get(7)).toEqual(all({ emails: ["dunning_soft", "dunning_urgent"], access: stillIn }));
    expect(byDay.get(13)).toEqual(all({ emails: ["dunning_soft", "dunning_urgent"], access: stillIn }));
    expect(byDay.get(14)).toEqual(all({ emails: ["dunning_soft", "dunning_urgent", "dunning_final"], access: stillIn }));
    expect(byDay.get(20)).toEqual(all({ emails: ["dunning_soft", "dunning_urgent", "dunning_final"], access: stillIn }));
    expect(byDay.get(21)).toEqual(all({ emails: ["dunning_soft", "dunning_urgent", "dunning_final", "suspended"], access: shutOut }));
    expect(byDay.get(22)).toEqual(byDay.get(21));
    for (const c of cases) {
      // The worker retried each invoice at Stripe (policy: worker retries), every attempt declined.
      expect((await stripe.invoices.retrieve(c.invoiceId)).attempt_count).toBeGreaterThan(1);
      // Every email went out through the transport (the minute cron sends the outbox).
      expect((await emails(c.userId, c.caseKey)).every((e) => e.status === "sent")).toBe(true);
    }

    // One pays with a working card: access is back as soon as Stripe's webhooks are processed, before any cron.
    const payer = cases[0]!;
    const working = await stripe.paymentMethods.attach("pm_card_visa", { customer: payer.customerId });
    await stripe.customers.update(payer.customerId, { invoice_settings: { default_payment_method: working.id } });
    await stripe.subscriptions.update(payer.subId, { default_payment_method: working.id });
    await stripe.invoices.pay(payer.invoiceId);
    await settle({ sweep: false });
    expect(await access(payer.userId)).toEqual({ online: "active", allowed: true, token: "active", tokenGrants: true, stored: "active" });
    await crons();
    await crons();
    expect((await emails(payer.userId, payer.caseKey)).map((e) => e.template)).toEqual(["dunning_soft", "dunning_urgent", "dunning_final", "suspended", "payment_recovered"]);
    expect((await emails(payer.userId, "")).filter((e) => e.template === "payment_recovered")).toEqual([{ template: "payment_recovered", status: "sent" }]);
    expect(await access(cases[1]!.userId)).toEqual(shutOut);
  }, 600_000);
});
