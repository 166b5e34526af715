/**
 * Issue 25's acceptance for individuals, against the system `npm start` runs: the emulator
 * provisioned by `npm run stripe:setup`'s code (the catalog's prices, multi-year ones included)
 * with Californian addresses taxed, the worker in workerd with its real queue receiving signed
 * webhooks, the minute cron run over HTTP as wrangler's /__scheduled runs it. A user buys the
 * two-year mobile plan through the worker's Checkout on a test clock: one charge of the two-year
 * price after the trial, no second charge at the 12-month mark, the next one two years on; the
 * revenue report counts 1/24 of the price as MRR every month in between.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import type { CRONS } from "../../worker/src/cron.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TWO_YEARS = 88_200;
/** 7.25 % of 88,200 = 6,394.5, rounded half up. */
const TAX = 6_395;

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  // As npm start starts and provisions it.
  system = await startSystem({ secretKey: "sk_test_multi_year", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const runCron = (name: keyof typeof CRONS) => system.runCron(name);
const settle = (opts?: { sweep?: boolean }) => system.settle(opts);

async function advanceTo(clock: string, ms: number) {
  await system.advanceClock(clock, ms);
  await runCron("sweep");
}

async function api<T>(method: string, path: string, opts: { json?: unknown; key?: string } = {}): Promise<T> {
  const res = await worker.request(path, { method, key: opts.key ?? worker.serviceKey, ...(opts.json !== undefined ? { json: opts.json } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** The customer's charges as Stripe has them: invoices that asked for money. */
async function charges(customer: string) {
  return (await stripe.invoices.list({ customer, limit: 100 })).data.filter((i) => i.amount_due > 0).map((i) => ({ status: i.status, subtotal: i.subtotal, amount_paid: i.amount_paid }));
}

interface Report {
  current: { mrr: number; customers: number; by_tier: Record<string, { customers: number; mrr: number }> };
  rows: { period: string; new_mrr: number; expansion_mrr: number; contraction_mrr: number; churned_mrr: number; closing_mrr: number }[];
}

const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);

describe("a two-year mobile plan in the running system", () => {
  it("is charged once for two years (nothing at the 12-month mark, again at 24) and the report counts 1/24 of it as MRR each month", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const userId = `user_two_year_${Date.now().toString(36)}`;
    const session = await api<{ session_id: string; trial_days: number }>("POST", "/v1/checkout", {
      json: { user_id: userId, email: `${userId}@example.test`, tier: "mobile", billing_cycle: "two_year", test_clock: clock.id },
    });
    expect(session.trial_days).toBe(14);
    const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.session_id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Two Year", "address[country]": "US", "address[state]": "CA", "address[postal_code]": "94105" }).toString(),
    });
    expect(paid.status).toBe(200);
    const { customer, subscription } = await stripe.checkout.sessions.retrieve(session.session_id);
    const subId = subscription as string;
    await settle();

    // Past the trial and the hour Stripe waits before charging: the two-year price, once.
    const trialEnd = (await stripe.subscriptions.retrieve(subId)).trial_end! * 1000;
    await advanceTo(clock.id, trialEnd + 2 * HOUR);
    const first = await charges(customer as string);
    expect(first).toEqual([{ status: "paid", subtotal: TWO_YEARS, amount_paid: TWO_YEARS + TAX }]);
    const view = await api<{ tier: string; billing_cycle: string; status: string; current_period_start: string; current_period_end: string }>("GET", `/v1/subscriptions/${userId}`);
    expect(view).toMatchObject({ tier: "mobile", billing_cycle: "two_year", status: "active" });
    const start = Date.parse(view.current_period_start);
    const end = new Date(start);
    end.setUTCFullYear(end.getUTCFullYear() + 2);
    expect(Date.parse(view.current_period_end)).toBe(end.getTime());

    // Thirteen months on, past the first anniversary: still that one charge, and access throughout.
    await advanceTo(clock.id, start + 396 * DAY);
    expect(await charges(customer as string)).toEqual(first);
    const online = await api<{ status: string; tier: string }>("GET", `/v1/entitlements/${userId}`);
    expect(online).toMatchObject({ status: "active", tier: "mobile" });

    // MRR: 88,200 / 24 = 3,675 cents, now and in every month since the first payment, with no movement at the anniversary.
    const report = await api<Report>("GET", `/v1/analytics/report?period=monthly&from=${month(start)}&to=${month(start + 396 * DAY)}`, { key: worker.adminKey });
    expect(report.current.mrr).toBe(3_675);
    expect(report.current.customers).toBe(1);
    expect(report.current.by_tier.mobile).toEqual({ customers: 1, mrr: 3_675 });
    const monthIndex = (ms: number) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth();
    expect(report.rows).toHaveLength(monthIndex(start + 396 * DAY) - monthIndex(start) + 1);
    expect(report.rows.map((r) => r.closing_mrr)).toEqual(report.rows.map(() => 3_675));
    expect(report.rows[0]!.new_mrr).toBe(3_675);
    for (const r of report.rows.slice(1)) expect([r.new_mrr, r.expansion_mrr, r.contraction_mrr, r.churned_mrr], r.period).toEqual([0, 0, 0, 0]);

    // Two years after the first payment: the second charge of the two-year price, and the next period ends two years later.
    await advanceTo(clock.id, end.getTime() + 2 * HOUR);
    expect(await charges(customer as string)).toEqual([
      { status: "paid", subtotal: TWO_YEARS, amount_paid: TWO_YEARS + TAX },
      { status: "paid", subtotal: TWO_YEARS, amount_paid: TWO_YEARS + TAX },
    ]);
    const renewed = await api<{ billing_cycle: string; current_period_end: string }>("GET", `/v1/subscriptions/${userId}`);
    const next = new Date(end);
    next.setUTCFullYear(next.getUTCFullYear() + 2);
    expect(renewed).toMatchObject({ billing_cycle: "two_year", current_period_end: next.toISOString() });
  });
});
