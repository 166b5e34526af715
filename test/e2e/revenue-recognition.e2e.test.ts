/**
 * Issue 26's recognized revenue, against the system `npm start` runs: the emulator provisioned by
 * `npm run stripe:setup`'s code with Californian addresses taxed, the worker in workerd with its
 * real queue receiving signed webhooks. A user buys the annual Mobile plan ($490) through the
 * worker's Checkout on a test clock whose trial ends on 15 March 2029; on 10 August the API refunds
 * $107.25 of it (tax included). GET /v1/analytics/revenue-recognition then answers the figures
 * computed by hand below, in JSON and as the CSV journal, from the invoice lines the mirror kept.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const HOUR = 3_600_000;
const ANNUAL = 49_000;
/** 7.25 % of 49,000 = 3,552.5, rounded half up. */
const TAX = 3_553;
/** Refunded through the API: 10,725 of the 52,553 paid, of which 10,725 × 49,000 / 52,553 = 9,999.90 → 10,000 is revenue and 725 tax. */
const REFUND = 10_725;

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  system = await startSystem({ secretKey: "sk_test_revenue_recognition", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

async function api<T>(method: string, path: string, opts: { json?: unknown; key?: string; headers?: Record<string, string> } = {}): Promise<T> {
  const res = await worker.request(path, { method, key: opts.key ?? worker.serviceKey, ...(opts.json !== undefined ? { json: opts.json } : {}), ...(opts.headers ? { headers: opts.headers } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

interface Row {
  month: string;
  currency: string;
  deferred_opening: number;
  billed: number;
  recognized: number;
  refunded: number;
  refunded_from_revenue: number;
  deferred_closing: number;
}

// By hand, for 49,000 over 15 March 2029 – 15 March 2030 (365 days), each month its days × 49,000 / 365
// rounded half up: March 17 days 2282.19 → 2282, April 30 → 4027, May 31 → 4162, June 4027, July 4162.
// The refund on 10 August: 1–9 August 49,000 × 9 / 365 = 1208.22 → 1208 recognized first; of the
// 49,000 − 18,660 − 1208 = 29,132 still deferred, the refund's 10,000 of revenue comes out, and the
// 19,132 left spreads over the 217 days to 15 March: 10–31 August 22 days 1939.65 → 1940 (August
// 1208 + 1940 = 3148), 30 days 2644.98 → 2645, 31 days 2733.14 → 2733, February 28 days 2468.65
// → 2469, and March 2030 the remainder 19,132 − 17,898 = 1234.
const RECOGNIZED: [string, number][] = [
  ["2029-03", 2282],
  ["2029-04", 4027],
  ["2029-05", 4162],
  ["2029-06", 4027],
  ["2029-07", 4162],
  ["2029-08", 3148],
  ["2029-09", 2645],
  ["2029-10", 2733],
  ["2029-11", 2645],
  ["2029-12", 2733],
  ["2030-01", 2733],
  ["2030-02", 2469],
  ["2030-03", 1234],
];

describe("recognized revenue in the running system", () => {
  it("an annual plan bought on a test clock and partly refunded: the JSON months and the CSV journal agree with the hand figures", async () => {
    // The trial (14 days) ends on 15 March 2029 at 08:00 UTC; Stripe charges an hour later.
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Date.UTC(2029, 2, 1, 8) / 1000 });
    const userId = `user_revrec_${Date.now().toString(36)}`;
    const session = await api<{ session_id: string; trial_days: number }>("POST", "/v1/checkout", {
      json: { user_id: userId, email: `${userId}@example.test`, tier: "mobile", billing_cycle: "annual", test_clock: clock.id },
    });
    expect(session.trial_days).toBe(14);
    const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.session_id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Annual Subscriber", "address[country]": "US", "address[state]": "CA", "address[postal_code]": "94105" }).toString(),
    });
    expect(paid.status).toBe(200);
    const subId = (await stripe.checkout.sessions.retrieve(session.session_id)).subscription as string;
    await system.settle();
    const trialEnd = (await stripe.subscriptions.retrieve(subId)).trial_end! * 1000;
    expect(new Date(trialEnd).toISOString()).toBe("2029-03-15T08:00:00.000Z");
    await advanceTo(clock.id, trialEnd + 2 * HOUR);
    const invoice = await stripe.invoices.retrieve(String((await stripe.subscriptions.retrieve(subId)).latest_invoice));
    expect(invoice).toMatchObject({ status: "paid", subtotal: ANNUAL, amount_paid: ANNUAL + TAX });
    expect(invoice.lines.data.map((l) => [l.amount, new Date(l.period.start * 1000).toISOString(), new Date(l.period.end * 1000).toISOString()])).toEqual([
      [ANNUAL, "2029-03-15T08:00:00.000Z", "2030-03-15T08:00:00.000Z"],
    ]);

    await advanceTo(clock.id, Date.UTC(2029, 7, 10, 12));
    const refund = await worker.request("/v1/refunds", {
      method: "POST",
      key: worker.serviceKey,
      json: { invoice_id: invoice.id, amount: REFUND, reason: "service_issue" },
      headers: { "idempotency-key": `revrec-${userId}` },
    });
    expect(refund.status).toBe(201);
    const refundId = ((await refund.json()) as { id: string }).id;
    await system.settle();

    const body = await api<{ from: string; to: string; rows: Row[] }>("GET", "/v1/analytics/revenue-recognition?from=2029-02&to=2030-04", { key: worker.adminKey });
    const usd = body.rows.filter((r) => r.currency === "usd");
    expect(usd.map((r) => r.month)).toEqual(["2029-02", ...RECOGNIZED.map(([m]) => m), "2030-04"]);
    expect(usd.slice(1, -1).map((r) => [r.month, r.recognized])).toEqual(RECOGNIZED);
    expect(usd[0]).toMatchObject({ deferred_opening: 0, billed: 0, recognized: 0, deferred_closing: 0 });
    expect(usd[1]).toMatchObject({ month: "2029-03", billed: ANNUAL, deferred_closing: ANNUAL - 2282 });
    // August opens with 49,000 − 18,660 = 30,340 and closes with 30,340 − 3148 − 10,000 = 17,192.
    expect(usd.find((r) => r.month === "2029-08")).toEqual({
      month: "2029-08",
      currency: "usd",
      deferred_opening: 30_340,
      billed: 0,
      recognized: 3148,
      refunded: 10_000,
      refunded_from_revenue: 0,
      deferred_closing: 17_192,
    });
    expect(usd.find((r) => r.month === "2030-03")!.deferred_closing).toBe(0);
    expect(usd.at(-1)).toMatchObject({ deferred_opening: 0, recognized: 0, deferred_closing: 0 });
    for (const r of usd) expect(r.deferred_opening + r.billed - r.recognized - r.refunded, r.month).toBe(r.deferred_closing);

    const csv = await worker.request("/v1/analytics/revenue-recognition?from=2029-02&to=2030-04", { key: worker.adminKey, headers: { accept: "text/csv" } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const [head, ...lines] = (await csv.text()).trimEnd().split("\r\n");
    expect(head).toBe("date,account,debit,credit,currency,memo");
    const journal = lines
      .map((l) => l.split(","))
      .map(([date, account, debit, credit, currency, memo]) => ({ date: date!, account: account!, debit: Number(debit), credit: Number(credit), currency: currency!, memo: memo! }));
    const billed = `billed invoice ${invoice.id}`;
    const refunded = `refund ${refundId} of invoice ${invoice.id}`;
    expect(journal.filter((l) => l.memo === billed || l.memo === refunded)).toEqual([
      { date: "2029-03-15", account: "cash", debit: ANNUAL + TAX, credit: 0, currency: "usd", memo: billed },
      { date: "2029-03-15", account: "deferred_revenue", debit: 0, credit: ANNUAL, currency: "usd", memo: billed },
      { date: "2029-03-15", account: "sales_tax_payable", debit: 0, credit: TAX, currency: "usd", memo: billed },
      { date: "2029-08-10", account: "deferred_revenue", debit: 10_000, credit: 0, currency: "usd", memo: refunded },
      { date: "2029-08-10", account: "sales_tax_payable", debit: 725, credit: 0, currency: "usd", memo: refunded },
      { date: "2029-08-10", account: "cash", debit: 0, credit: REFUND, currency: "usd", memo: refunded },
    ]);
    // One entry per month end: deferred revenue against revenue, the JSON's figure.
    const recognition = journal.filter((l) => l.memo.startsWith("recognized "));
    expect(recognition.filter((l) => l.account === "revenue").map((l) => [l.date.slice(0, 7), l.credit])).toEqual(RECOGNIZED);
    expect(recognition.find((l) => l.memo === "recognized 2029-03 usd" && l.account === "deferred_revenue")).toMatchObject({ date: "2029-03-31", debit: 2282 });
    // Debits equal credits, entry by entry and in all.
    const byEntry = new Map<string, number>();
    for (const l of journal) byEntry.set(l.memo, (byEntry.get(l.memo) ?? 0) + l.debit - l.credit);
    expect([...byEntry.values()].every((net) => net === 0)).toBe(true);
    expect(journal.reduce((a, l) => a + l.debit, 0)).toBe(journal.reduce((a, l) => a + l.credit, 0));
  }, 240_000);
});
