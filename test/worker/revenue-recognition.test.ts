/**
 * Recognized revenue: the schedule on invoices whose every figure is computed by hand below, then
 * GET /v1/analytics/revenue-recognition over mirror rows written directly (JSON, the CSV journal,
 * bad input). The route's fixture uses its own currencies (NZD, SEK) and years (2002–2003), so
 * rows other files write into the shared database never enter the figures checked.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { invoiceSchedule, recognitionSchedule, roundHalfUp, type JournalLine, type RecognitionInvoice, type RecognitionRefund, type RecognitionRow } from "../../worker/src/analytics/recognition";
import { monthOf } from "../../worker/src/analytics/months";
import { getDb } from "../../worker/src/db/client";
import { creditNotes, invoiceLines, invoices, refunds } from "../../worker/src/db/schema";
import { call, makeKey } from "./helpers";

const at = (y: number, m: number, d: number, h = 10) => Date.UTC(y, m - 1, d, h);
const month = (y: number, m: number) => monthOf(Date.UTC(y, m - 1, 1));

function invoice(id: string, paidAt: number, lines: [amount: number, start: number, end: number][], opts: Partial<RecognitionInvoice> = {}): RecognitionInvoice {
  const net = lines.reduce((a, [x]) => a + x, 0);
  return {
    id,
    currency: "usd",
    total: net,
    amountDue: Math.max(net, 0),
    amountPaid: Math.max(net, 0),
    paidAt,
    lines: lines.map(([amount, periodStart, periodEnd]) => ({ amount, periodStart, periodEnd })),
    ...opts,
  };
}

const byMonth = (rows: RecognitionRow[], currency = "usd") => Object.fromEntries(rows.filter((r) => r.currency === currency).map((r) => [r.month, r]));

function expectBalanced(rows: RecognitionRow[]) {
  for (const r of rows) expect(r.deferred_opening + r.billed - r.recognized - r.refunded, `${r.month} ${r.currency}`).toBe(r.deferred_closing);
  // Each month opens where the one before closed.
  const cur = new Map<string, number>();
  for (const r of rows) {
    if (cur.has(r.currency)) expect(r.deferred_opening, `${r.month} ${r.currency} opening`).toBe(cur.get(r.currency));
    cur.set(r.currency, r.deferred_closing);
  }
}

function expectJournalBalanced(journal: JournalLine[]) {
  expect(journal.length).toBeGreaterThan(0);
  const entries = new Map<string, number>();
  for (const l of journal) {
    expect(l.debit === 0 || l.credit === 0, `${l.memo} ${l.account}`).toBe(true);
    entries.set(`${l.currency} ${l.memo}`, (entries.get(`${l.currency} ${l.memo}`) ?? 0) + l.debit - l.credit);
  }
  for (const [memo, net] of entries) expect(net, memo).toBe(0);
}

/** The annual Mobile plan: $490 on 15 March 2026, service to 15 March 2027 (365 days). */
const ANNUAL = () => invoice("in_annual", at(2026, 3, 15), [[49_000, at(2026, 3, 15), at(2027, 3, 15)]]);

// 49000 × days / 365, each rounded half up: 17 → 2282.19 → 2282, 30 → 4027.40 → 4027,
// 31 → 4161.64 → 4162, 28 → 3758.90 → 3759; March 2027 takes the remainder,
// 49000 − (2282 + 4 × 4027 + 6 × 4162 + 3759) = 49000 − 47121 = 1879 (14 days: 1879.45).
const ANNUAL_MONTHS: [string, number][] = [
  ["2026-03", 2282],
  ["2026-04", 4027],
  ["2026-05", 4162],
  ["2026-06", 4027],
  ["2026-07", 4162],
  ["2026-08", 4162],
  ["2026-09", 4027],
  ["2026-10", 4162],
  ["2026-11", 4027],
  ["2026-12", 4162],
  ["2027-01", 4162],
  ["2027-02", 3759],
  ["2027-03", 1879],
];

describe("recognition schedule", () => {
  it("rounds half up in integers, away from zero for credits", () => {
    expect([roundHalfUp(5, 2), roundHalfUp(833_000, 365), roundHalfUp(-5, 2), roundHalfUp(-7, 4), roundHalfUp(7, 4)]).toEqual([3, 2282, -3, -2, 2]);
  });

  it("an annual plan of $490 paid on 15 March recognizes 17/365 in March, each later month its days, and nothing stays deferred after 15 March 2027", () => {
    const { rows } = recognitionSchedule([ANNUAL()], [], month(2026, 2), month(2027, 4));
    const m = byMonth(rows);
    expect(m["2026-02"]).toMatchObject({ deferred_opening: 0, billed: 0, recognized: 0, deferred_closing: 0 });
    expect(m["2026-03"]).toMatchObject({ deferred_opening: 0, billed: 49_000, recognized: 2282, refunded: 0, deferred_closing: 46_718 });
    for (const [label, cents] of ANNUAL_MONTHS) expect(m[label]!.recognized, label).toBe(cents);
    expect(m["2027-03"]!.deferred_closing).toBe(0);
    expect(m["2027-04"]).toMatchObject({ deferred_opening: 0, recognized: 0, deferred_closing: 0 });
    expectBalanced(rows);
  });

  it("a range starting mid-period opens with what is still deferred then", () => {
    const { rows } = recognitionSchedule([ANNUAL()], [], month(2026, 6), month(2026, 6));
    // 49000 − (2282 + 4027 + 4162) = 38529 deferred on 1 June.
    expect(rows).toEqual([{ month: "2026-06", currency: "usd", deferred_opening: 38_529, billed: 0, recognized: 4027, refunded: 0, refunded_from_revenue: 0, deferred_closing: 34_502 }]);
  });

  it("a refund of $100 on 10 August reverses deferred revenue and spreads what is left over the remaining days", () => {
    const refund: RecognitionRefund = { id: "re_aug", invoiceId: "in_annual", amount: 10_000, createdAt: at(2026, 8, 10, 15) };
    const { rows, journal } = recognitionSchedule([ANNUAL()], [refund], month(2026, 3), month(2027, 3));
    const m = byMonth(rows);
    // By hand: March–July as scheduled, 2282 + 4027 + 4162 + 4027 + 4162 = 18660; 1–9 August,
    // 49000 × 9 / 365 = 1208.22 → 1208. Left to recognize on 10 August: 49000 − 19868 = 29132,
    // all of the refund comes out of it: 19132 over the 217 days from 10 August to 15 March:
    // August's 22 days 19132 × 22 / 217 = 1939.65 → 1940 (August: 1208 + 1940 = 3148),
    // 30 days 2644.98 → 2645, 31 days 2733.14 → 2733, 28 days 2468.65 → 2469, and March 2027
    // the remainder 19132 − (1940 + 2 × 2645 + 3 × 2733 + 2469) = 1234.
    const expected: [string, number][] = [
      ["2026-03", 2282],
      ["2026-04", 4027],
      ["2026-05", 4162],
      ["2026-06", 4027],
      ["2026-07", 4162],
      ["2026-08", 3148],
      ["2026-09", 2645],
      ["2026-10", 2733],
      ["2026-11", 2645],
      ["2026-12", 2733],
      ["2027-01", 2733],
      ["2027-02", 2469],
      ["2027-03", 1234],
    ];
    for (const [label, cents] of expected) expect(m[label]!.recognized, label).toBe(cents);
    // August opens with 49000 − 18660 = 30340 and closes with 30340 − 3148 − 10000 = 17192.
    expect(m["2026-08"]).toMatchObject({ deferred_opening: 30_340, refunded: 10_000, refunded_from_revenue: 0, deferred_closing: 17_192 });
    expect(m["2027-03"]!.deferred_closing).toBe(0);
    expect(rows.reduce((a, r) => a + r.recognized, 0)).toBe(39_000);
    expectBalanced(rows);
    expect(journal.filter((l) => l.memo.startsWith("refund re_aug"))).toEqual([
      { date: "2026-08-10", account: "deferred_revenue", debit: 10_000, credit: 0, currency: "usd", memo: "refund re_aug of invoice in_annual" },
      { date: "2026-08-10", account: "cash", debit: 0, credit: 10_000, currency: "usd", memo: "refund re_aug of invoice in_annual" },
    ]);
    expectJournalBalanced(journal);
  });

  it("a refund larger than what is still deferred takes the rest out of the month's recognized revenue", () => {
    // Monthly $49 for 1–31 May (31 days), refunded in full on 20 May: 1–19 May were recognized,
    // 4900 × 19 / 31 = 3003.23 → 3003; 1897 was deferred; so 1897 from deferred, 3003 from revenue.
    const inv = invoice("in_may", at(2026, 5, 1), [[4900, at(2026, 5, 1), at(2026, 6, 1)]]);
    const s = invoiceSchedule(inv, [{ id: "re_may", invoiceId: "in_may", amount: 4900, createdAt: at(2026, 5, 20) }]);
    expect(s.refunds[0]).toMatchObject({ revenue: 4900, fromDeferred: 1897, fromRevenue: 3003, tax: 0 });
    const { rows, journal } = recognitionSchedule([inv], [{ id: "re_may", invoiceId: "in_may", amount: 4900, createdAt: at(2026, 5, 20) }], month(2026, 5), month(2026, 6));
    expect(byMonth(rows)["2026-05"]).toMatchObject({ billed: 4900, recognized: 0, refunded: 4900, refunded_from_revenue: 3003, deferred_closing: 0 });
    expect(byMonth(rows)["2026-06"]).toMatchObject({ recognized: 0, deferred_closing: 0 });
    expectBalanced(rows);
    // The month-end entry recognizes 3003 gross; the refund's entry takes it back out of revenue.
    expect(journal.filter((l) => l.account === "revenue")).toEqual([
      { date: "2026-05-20", account: "revenue", debit: 3003, credit: 0, currency: "usd", memo: "refund re_may of invoice in_may" },
      { date: "2026-05-31", account: "revenue", debit: 0, credit: 3003, currency: "usd", memo: "recognized 2026-05 usd" },
    ]);
    expectJournalBalanced(journal);
  });

  it("monthly plans recognize each invoice over its own days, across month ends", () => {
    // $29 a month from 31 January: 31 Jan–28 Feb is 28 days, 1 day in January 2900 / 28 = 103.57 → 104,
    // 27 in February the remainder 2796; the next invoice (28 Feb–28 Mar) 104 in February, 2796 in March.
    const jan = invoice("in_m1", at(2026, 1, 31), [[2900, at(2026, 1, 31), at(2026, 2, 28)]]);
    const feb = invoice("in_m2", at(2026, 2, 28), [[2900, at(2026, 2, 28), at(2026, 3, 28)]]);
    const { rows } = recognitionSchedule([jan, feb], [], month(2026, 1), month(2026, 3));
    const m = byMonth(rows);
    expect(m["2026-01"]).toMatchObject({ billed: 2900, recognized: 104, deferred_closing: 2796 });
    expect(m["2026-02"]).toMatchObject({ billed: 2900, recognized: 2900, deferred_closing: 2796 });
    expect(m["2026-03"]).toMatchObject({ billed: 0, recognized: 2796, deferred_closing: 0 });
    expectBalanced(rows);
  });

  it("a proration credit is recognized over its days as negative revenue, and an invoice paid late catches up in its paid month", () => {
    // Upgrade on 16 April from $29 to $49 a month (period 1 April–1 May, 30 days): −1450 and +2450 for 16–30 April.
    const april = invoice("in_apr", at(2026, 4, 1), [[2900, at(2026, 4, 1), at(2026, 5, 1)]]);
    const upgrade = invoice("in_up", at(2026, 4, 16), [
      [-1450, at(2026, 4, 16), at(2026, 5, 1)],
      [2450, at(2026, 4, 16), at(2026, 5, 1)],
    ]);
    // May's invoice paid on 10 June after dunning: May's days are recognized in June.
    const may = invoice("in_may_late", at(2026, 6, 10), [[4900, at(2026, 5, 1), at(2026, 6, 1)]]);
    const { rows } = recognitionSchedule([april, upgrade, may], [], month(2026, 4), month(2026, 6));
    const m = byMonth(rows);
    expect(m["2026-04"]).toMatchObject({ billed: 3900, recognized: 3900, deferred_closing: 0 });
    expect(m["2026-05"]).toMatchObject({ billed: 0, recognized: 0, deferred_closing: 0 });
    expect(m["2026-06"]).toMatchObject({ billed: 4900, recognized: 4900, deferred_closing: 0 });
    expectBalanced(rows);
  });

  it("keeps currencies apart, and tax goes to its own account, never to revenue", () => {
    // €100 + 19 % VAT for a year from 1 January 2026 (365 days): January 10000 × 31 / 365 = 849.32 → 849.
    const eur = invoice("in_eur", at(2026, 1, 1), [[10_000, at(2026, 1, 1), at(2027, 1, 1)]], { currency: "eur", total: 11_900, amountDue: 11_900, amountPaid: 11_900 });
    const usd = invoice("in_usd", at(2026, 1, 5), [[2900, at(2026, 1, 5), at(2026, 2, 5)]]);
    // A refund of €59.50 (tax included) is 5000 of revenue and 950 of VAT.
    const refund: RecognitionRefund = { id: "re_eur", invoiceId: "in_eur", amount: 5950, createdAt: at(2026, 1, 20) };
    const { rows, journal } = recognitionSchedule([eur, usd], [refund], month(2026, 1), month(2026, 1));
    expect(rows.map((r) => r.currency)).toEqual(["eur", "usd"]);
    // 1–19 January: 10000 × 19 / 365 = 520.55 → 521; left 9479, less 5000 = 4479 over 346 days;
    // 20–31 January, 12 days: 4479 × 12 / 346 = 155.34 → 155; January 521 + 155 = 676.
    expect(byMonth(rows, "eur")["2026-01"]).toMatchObject({ billed: 10_000, recognized: 676, refunded: 5000, deferred_closing: 10_000 - 676 - 5000 });
    // 5–31 January is 27 of 31 days: 2900 × 27 / 31 = 2525.81 → 2526.
    expect(byMonth(rows, "usd")["2026-01"]).toMatchObject({ billed: 2900, recognized: 2526, deferred_closing: 374 });
    expectBalanced(rows);
    expect(journal.filter((l) => l.memo === "billed invoice in_eur")).toEqual([
      { date: "2026-01-01", account: "cash", debit: 11_900, credit: 0, currency: "eur", memo: "billed invoice in_eur" },
      { date: "2026-01-01", account: "deferred_revenue", debit: 0, credit: 10_000, currency: "eur", memo: "billed invoice in_eur" },
      { date: "2026-01-01", account: "sales_tax_payable", debit: 0, credit: 1900, currency: "eur", memo: "billed invoice in_eur" },
    ]);
    expect(journal.filter((l) => l.memo === "refund re_eur of invoice in_eur").map((l) => [l.account, l.debit, l.credit])).toEqual([
      ["deferred_revenue", 5000, 0],
      ["sales_tax_payable", 950, 0],
      ["cash", 0, 5950],
    ]);
    expectJournalBalanced(journal);
  });

  it("an invoice paid outside Stripe is a receivable, and a customer's credit balance pays its part", () => {
    const oob = invoice("in_oob", at(2026, 2, 1), [[9900, at(2026, 2, 1), at(2026, 3, 1)]], { amountPaid: 0 });
    const credit = invoice("in_credit", at(2026, 2, 3), [[4900, at(2026, 2, 3), at(2026, 3, 3)]], { amountDue: 3900, amountPaid: 3900 });
    const { journal } = recognitionSchedule([oob, credit], [], month(2026, 2), month(2026, 2));
    expect(journal.filter((l) => l.memo === "billed invoice in_oob").map((l) => [l.account, l.debit, l.credit])).toEqual([
      ["accounts_receivable", 9900, 0],
      ["deferred_revenue", 0, 9900],
    ]);
    expect(journal.filter((l) => l.memo === "billed invoice in_credit").map((l) => [l.account, l.debit, l.credit])).toEqual([
      ["cash", 3900, 0],
      ["customer_balance", 1000, 0],
      ["deferred_revenue", 0, 4900],
    ]);
    expectJournalBalanced(journal);
  });
});

// ---------------------------------------------------------------------------------------------
// The route, over mirror rows

const P = "rr26_";
const db = () => getDb(env.DB);

async function mirror(inv: RecognitionInvoice, tax = 0, invoicePeriod?: [number, number]) {
  await db()
    .insert(invoices)
    .values({
      id: P + inv.id,
      customerId: `${P}cus`,
      subscriptionId: null,
      userId: null,
      status: "paid",
      billingReason: "subscription_create",
      currency: inv.currency,
      subtotal: inv.total - tax,
      tax,
      discountTotal: 0,
      total: inv.total,
      amountDue: inv.amountDue,
      amountPaid: inv.amountPaid,
      amountRemaining: 0,
      attemptCount: 1,
      periodStart: invoicePeriod?.[0] ?? inv.paidAt,
      periodEnd: invoicePeriod?.[1] ?? inv.paidAt,
      hostedInvoiceUrl: null,
      createdAt: inv.paidAt,
      paidAt: inv.paidAt,
      syncedAt: inv.paidAt,
    });
  if (inv.lines.length === 0) return;
  await db()
    .insert(invoiceLines)
    .values(
      inv.lines.map((l, i) => ({ id: `${P}${inv.id}_il${i}`, invoiceId: P + inv.id, currency: inv.currency, amount: l.amount, periodStart: l.periodStart, periodEnd: l.periodEnd, proration: false })),
    );
}

describe("GET /v1/analytics/revenue-recognition", () => {
  it("answers the months per currency as JSON and the journal as CSV, for analysts", async () => {
    // The annual plan again, in NZD from 15 March 2002 (365 days, the same figures), refunded $100 on
    // 10 August 2002, and a SEK invoice in another month; a failed refund changes nothing.
    const nzd = invoice("nzd_annual", at(2002, 3, 15), [[49_000, at(2002, 3, 15), at(2003, 3, 15)]], { currency: "nzd" });
    await mirror(nzd);
    await mirror(invoice("sek_m", at(2002, 8, 1), [[10_000, at(2002, 8, 1), at(2002, 9, 1)]], { currency: "sek" }));
    const refund = { chargeId: `${P}ch`, invoiceId: P + nzd.id, subscriptionId: null, creditNoteId: null, customerId: `${P}cus`, userId: null, currency: "nzd", reason: null, syncedAt: 0 };
    await db()
      .insert(refunds)
      .values([
        { ...refund, id: `${P}re_ok`, amount: 10_000, status: "succeeded", createdAt: at(2002, 8, 10, 15) },
        { ...refund, id: `${P}re_failed`, amount: 20_000, status: "failed", createdAt: at(2002, 8, 11) },
      ]);
    const analyst = (await makeKey("analyst")).key;
    const res = await call("GET", "/v1/analytics/revenue-recognition?from=2002-03&to=2003-03", { key: analyst });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { from: string; to: string; rows: RecognitionRow[] };
    expect([body.from, body.to]).toEqual(["2002-03", "2003-03"]);
    const m = byMonth(body.rows, "nzd");
    // Hand figures of the schedule test above (same days: February 2003 has 28).
    expect(Object.values(m).map((r) => r.recognized)).toEqual([2282, 4027, 4162, 4027, 4162, 3148, 2645, 2733, 2645, 2733, 2733, 2469, 1234]);
    expect(m["2002-08"]).toMatchObject({ deferred_opening: 30_340, refunded: 10_000, deferred_closing: 17_192 });
    expect(m["2003-03"]!.deferred_closing).toBe(0);
    expect(byMonth(body.rows, "sek")["2002-08"]).toMatchObject({ billed: 10_000, recognized: 10_000, deferred_closing: 0 });
    expectBalanced(body.rows.filter((r) => r.currency === "nzd" || r.currency === "sek"));

    for (const init of [{ headers: { accept: "text/csv" } }, { path: "&format=csv" }]) {
      const csv = await call("GET", `/v1/analytics/revenue-recognition?from=2002-03&to=2003-03${init.path ?? ""}`, { key: analyst, headers: init.headers });
      expect(csv.status).toBe(200);
      expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
      const [head, ...rest] = (await csv.text()).trimEnd().split("\r\n");
      expect(head).toBe("date,account,debit,credit,currency,memo");
      const lines = rest
        .map((l) => l.split(","))
        .filter((c) => c[4] === "nzd" || c[4] === "sek")
        .map(([date, account, debit, credit, currency, memo]) => ({
          date: date!,
          account: account as JournalLine["account"],
          debit: Number(debit),
          credit: Number(credit),
          currency: currency!,
          memo: memo!,
        }));
      expectJournalBalanced(lines);
      const nzdLines = lines.filter((l) => l.currency === "nzd");
      // What the JSON says each month, the journal says per account: revenue credited = recognized.
      const revenue = nzdLines.filter((l) => l.account === "revenue").reduce((a, l) => a + l.credit - l.debit, 0);
      expect(revenue).toBe(Object.values(m).reduce((a, r) => a + r.recognized, 0));
      expect(nzdLines.filter((l) => l.account === "cash").map((l) => [l.date, l.debit, l.credit])).toEqual([
        ["2002-03-15", 49_000, 0],
        ["2002-08-10", 0, 10_000],
      ]);
      expect(nzdLines.find((l) => l.memo === "recognized 2002-03 nzd" && l.account === "revenue")).toMatchObject({ date: "2002-03-31", credit: 2282 });
    }
  });

  it("answers from the mirror exactly what the schedule computes for the same invoices, JSON and journal alike", async () => {
    // CHF in 2001: monthly renewals across a month end, with tax, with a customer credit, paid
    // late, refunded, a proration with a credit line, and an annual plan.
    const chf = (id: string, paidAt: number, lines: [number, number, number][], opts: Partial<RecognitionInvoice> = {}) => invoice(`chf_${id}`, paidAt, lines, { currency: "chf", ...opts });
    const cases: [RecognitionInvoice, number][] = [
      [chf("jan", at(2001, 1, 31), [[2900, at(2001, 1, 31), at(2001, 2, 28)]]), 0],
      [chf("feb", at(2001, 2, 28), [[2900, at(2001, 2, 28), at(2001, 3, 28)]]), 0],
      [chf("mar", at(2001, 3, 1), [[4900, at(2001, 3, 1), at(2001, 4, 1)]]), 0],
      [chf("late", at(2001, 5, 10), [[4900, at(2001, 4, 1), at(2001, 5, 1)]]), 0],
      [chf("refunded", at(2001, 6, 5), [[4900, at(2001, 6, 5), at(2001, 7, 5)]]), 0],
      [
        chf("proration", at(2001, 7, 16), [
          [-1450, at(2001, 7, 16), at(2001, 8, 1)],
          [2450, at(2001, 7, 16), at(2001, 8, 1)],
        ]),
        0,
      ],
      [chf("annual", at(2001, 8, 15), [[49_000, at(2001, 8, 15), at(2002, 8, 15)]]), 0],
      [chf("taxed", at(2001, 9, 5), [[2900, at(2001, 9, 5), at(2001, 10, 5)]], { total: 3110, amountDue: 3110, amountPaid: 3110 }), 210],
      [chf("credit", at(2001, 10, 7), [[4900, at(2001, 10, 7), at(2001, 11, 7)]], { amountDue: 3900, amountPaid: 3900 }), 0],
    ];
    for (const [inv, tax] of cases) await mirror(inv, tax);
    const refundsChf: RecognitionRefund[] = [{ id: "re_chf", invoiceId: "chf_refunded", amount: 2000, createdAt: at(2001, 6, 20) }];
    await db()
      .insert(refunds)
      .values(
        refundsChf.map((r) => ({
          id: P + r.id,
          chargeId: `${P}ch_chf`,
          invoiceId: P + r.invoiceId,
          subscriptionId: null,
          creditNoteId: null,
          customerId: `${P}cus`,
          userId: null,
          amount: r.amount,
          currency: "chf",
          status: "succeeded",
          reason: null,
          createdAt: r.createdAt,
          syncedAt: 0,
        })),
      );
    // The pure schedule of the same invoices, ids as mirrored.
    const expected = recognitionSchedule(
      cases.map(([inv]) => ({ ...inv, id: P + inv.id })),
      refundsChf.map((r) => ({ ...r, id: P + r.id, invoiceId: P + r.invoiceId })),
      month(2001, 2),
      month(2002, 9),
    );
    const key = (await makeKey("analyst")).key;
    const json = (await (await call("GET", "/v1/analytics/revenue-recognition?from=2001-02&to=2002-09", { key })).json()) as { rows: RecognitionRow[] };
    const rows = json.rows.filter((r) => r.currency === "chf");
    expect(rows).toEqual(expected.rows);
    // January's renewal was half recognized before the range: February opens with the rest.
    expect(rows[0]).toMatchObject({ month: "2001-02", deferred_opening: 2796 });
    expectBalanced(rows);
    const csv = await (await call("GET", "/v1/analytics/revenue-recognition?from=2001-02&to=2002-09&format=csv", { key })).text();
    const journal = csv
      .trimEnd()
      .split("\r\n")
      .slice(1)
      .map((l) => l.split(","))
      .filter((c) => c[4] === "chf")
      .map(([date, account, debit, credit, currency, memo]) => ({ date, account, debit: Number(debit), credit: Number(credit), currency, memo }));
    expect(journal).toEqual(expected.journal);
    expectJournalBalanced(expected.journal);
  });

  it("a credit note crediting the customer's balance after payment reverses deferred revenue as a refund would, on the customer balance", async () => {
    // The NZD case above in DKK and 2005 (the same days): $100 credited to the balance, not refunded, on 10 August.
    const dkk = invoice("dkk_annual", at(2005, 3, 15), [[49_000, at(2005, 3, 15), at(2006, 3, 15)]], { currency: "dkk" });
    await mirror(dkk);
    const note = { invoiceId: P + dkk.id, customerId: `${P}cus`, userId: null, number: null, currency: "dkk", reason: null, syncedAt: 0 };
    await db()
      .insert(creditNotes)
      .values([
        { ...note, id: `${P}cn_balance`, status: "issued", amount: 10_000, refundAmount: 0, createdAt: at(2005, 8, 10, 15) },
        { ...note, id: `${P}cn_void`, status: "void", amount: 20_000, refundAmount: 0, createdAt: at(2005, 8, 11) },
      ]);
    const key = (await makeKey("analyst")).key;
    const body = (await (await call("GET", "/v1/analytics/revenue-recognition?from=2005-03&to=2006-03", { key })).json()) as { rows: RecognitionRow[] };
    const m = byMonth(body.rows, "dkk");
    expect(Object.values(m).map((r) => r.recognized)).toEqual([2282, 4027, 4162, 4027, 4162, 3148, 2645, 2733, 2645, 2733, 2733, 2469, 1234]);
    expect(m["2005-08"]).toMatchObject({ deferred_opening: 30_340, refunded: 10_000, deferred_closing: 17_192 });
    expect(m["2006-03"]!.deferred_closing).toBe(0);
    const csv = await (await call("GET", "/v1/analytics/revenue-recognition?from=2005-03&to=2006-03&format=csv", { key })).text();
    const credit = csv
      .split("\r\n")
      .map((l) => l.split(","))
      .filter((c) => c[4] === "dkk" && c[5] === `credit note ${P}cn_balance of invoice ${P}${dkk.id}`);
    expect(credit.map(([date, account, debit, creditAmount]) => [date, account, Number(debit), Number(creditAmount)])).toEqual([
      ["2005-08-10", "deferred_revenue", 10_000, 0],
      ["2005-08-10", "customer_balance", 0, 10_000],
    ]);
  });

  it("an invoice mirrored before its lines were is not guessed at: left out and counted, whenever it was paid", async () => {
    const key = (await makeKey("analyst")).key;
    const read = async () => (await (await call("GET", "/v1/analytics/revenue-recognition?from=2007-06&to=2007-12", { key })).json()) as { rows: RecognitionRow[]; invoices_without_lines: number };
    const before = (await read()).invoices_without_lines;
    expect(before).toEqual(expect.any(Number));
    // A subscription's invoice whose own period is not its service period: paid in the range, and paid before it.
    await mirror(invoice("isk_in_range", at(2007, 6, 10), [], { currency: "isk", total: 4900, amountDue: 4900, amountPaid: 4900 }), 0, [at(2007, 5, 10), at(2007, 6, 10)]);
    await mirror(invoice("isk_before", at(2007, 1, 10), [], { currency: "isk", total: 4900, amountDue: 4900, amountPaid: 4900 }), 0, [at(2006, 12, 10), at(2007, 1, 10)]);
    const after = await read();
    expect(after.invoices_without_lines).toBe(before + 2);
    expect(after.rows.filter((r) => r.currency === "isk")).toEqual([]);
  });

  it("is analytics:read: the service key may not read it", async () => {
    expect((await call("GET", "/v1/analytics/revenue-recognition?from=2003-01&to=2003-02", { key: (await makeKey("admin")).key })).status).toBe(200);
    expect((await call("GET", "/v1/analytics/revenue-recognition?from=2003-01&to=2003-02", { key: (await makeKey("service")).key })).status).toBe(403);
    expect((await call("GET", "/v1/analytics/revenue-recognition?from=2003-01&to=2003-02")).status).toBe(401);
  });

  it("bad months, from after to, a range over 60 months and an unknown format are 400 problems naming the field", async () => {
    const key = (await makeKey("analyst")).key;
    const cases: [string, string][] = [
      ["from=2025-13&to=2026-01", "query.from"],
      ["from=2025-01&to=26-01", "query.to"],
      ["from=2025-06&to=2025-01", "query.from"],
      ["from=2020-01&to=2025-01", "query.to"],
      ["from=1969-12&to=1970-01", "query.from"],
      ["from=2025-01&to=2025-02&format=xml", "query.format"],
      ["from=2025-01&to=2025-02&currency=usd", "query.currency"],
    ];
    for (const [query, field] of cases) {
      const res = await call("GET", `/v1/analytics/revenue-recognition?${query}`, { key });
      const body = (await res.json()) as { status: number; errors?: { field: string }[] };
      expect([res.status, res.headers.get("content-type")], query).toEqual([400, expect.stringMatching(/application\/problem\+json/)]);
      expect(body.status, query).toBe(400);
      expect(
        body.errors?.map((e) => e.field),
        query,
      ).toContain(field);
    }
    // Exactly 60 months is allowed.
    expect((await call("GET", "/v1/analytics/revenue-recognition?from=2020-01&to=2024-12", { key })).status).toBe(200);
  });
});
