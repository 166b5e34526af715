/**
 * Recognized revenue (ASC 606 / IFRS 15, a stand-ready subscription): each paid invoice line is
 * recognized straight-line by day over its service period, and what is billed but not yet
 * recognized is deferred revenue. Refunds, and credit notes' parts credited to the customer's
 * balance or out of band, reverse the deferred part first. The schedule is pure
 * (`recognitionSchedule`, tested by hand figures); `revenueRecognition` loads what it needs from
 * the mirror and returns the months of a range with their journal (docs/analytics.md).
 */
import { sql } from "drizzle-orm";
import { monthLabel, monthOf, monthStart, parseRange, type MonthIndex } from "./months";
import type { AnalyticsDeps, Month } from "./types";

/** The longest range one answer covers: five years of months and their journal. */
export const RECOGNITION_MAX_MONTHS = 60;

const DAY_MS = 86_400_000;

/** The ledger accounts of the journal, by the codes an accounting system maps to its own chart. */
export const JOURNAL_ACCOUNTS = {
  cash: "cash",
  receivable: "accounts_receivable",
  customerBalance: "customer_balance",
  deferred: "deferred_revenue",
  revenue: "revenue",
  tax: "sales_tax_payable",
} as const;
export type JournalAccount = (typeof JOURNAL_ACCOUNTS)[keyof typeof JOURNAL_ACCOUNTS];

export interface RecognitionLine {
  /** Revenue of the line (after discounts, without tax), in minor units; negative for a proration credit. */
  amount: number;
  /** Service period in ms, UTC: start inclusive, end exclusive. */
  periodStart: number;
  periodEnd: number;
}

export interface RecognitionInvoice {
  id: string;
  currency: string;
  /** Stripe's total (tax included) and the parts of it the customer settled. */
  total: number;
  amountDue: number;
  amountPaid: number;
  paidAt: number;
  lines: RecognitionLine[];
}

export interface RecognitionRefund {
  id: string;
  invoiceId: string;
  /** What went back to the customer, tax included. */
  amount: number;
  createdAt: number;
  /**
   * A refund returns cash; a credit note's part that is no refund (credited to the customer's
   * balance, or settled out of band) reverses revenue the same way, owed on the customer's balance.
   */
  kind?: "refund" | "credit_note";
}

export interface RecognitionRow {
  month: Month;
  currency: string;
  deferred_opening: number;
  billed: number;
  recognized: number;
  refunded: number;
  /** The part of `refunded` that exceeded the deferred balance of its invoice, taken out of `recognized` (already net of it). */
  refunded_from_revenue: number;
  deferred_closing: number;
}

export interface JournalLine {
  /** The entry's date, YYYY-MM-DD (UTC). */
  date: string;
  account: JournalAccount;
  debit: number;
  credit: number;
  currency: string;
  /** Names the entry: every line of one entry has the same memo. */
  memo: string;
}

export interface RevenueRecognition {
  from: Month;
  to: Month;
  rows: RecognitionRow[];
  journal: JournalLine[];
  /**
   * Paid invoices up to the range's end with no mirrored lines (mirrored before lines were): their
   * service periods are unknown, so they are left out rather than guessed, until a resync fetches them.
   */
  invoicesWithoutLines: number;
}

/** n / d rounded half up (half away from zero for a negative n), d > 0, in integers. */
export function roundHalfUp(n: number, d: number): number {
  return n >= 0 ? Math.floor((2 * n + d) / (2 * d)) : -Math.floor((-2 * n + d) / (2 * d));
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);
const monthOfDay = (day: number): MonthIndex => monthOf(day * DAY_MS);
const firstDayOf = (m: MonthIndex) => monthStart(m) / DAY_MS;
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A part of a line still to be recognized by day over [start, end) (UTC day numbers). */
interface Piece {
  amount: number;
  start: number;
  end: number;
}

/**
 * A piece's amount per month by its days in each month, each month rounded half up, the last
 * month taking the remainder so the months sum to the amount. A piece of no days falls on its
 * start day.
 */
export function splitByMonth(p: Piece): Map<MonthIndex, number> {
  const out = new Map<MonthIndex, number>();
  if (p.end <= p.start) return out.set(monthOfDay(p.start), p.amount);
  const days = p.end - p.start;
  let used = 0;
  for (let d = p.start; d < p.end; ) {
    const m = monthOfDay(d);
    const next = Math.min(p.end, firstDayOf(m + 1));
    const part = next === p.end ? p.amount - used : roundHalfUp(p.amount * (next - d), days);
    out.set(m, part);
    used += part;
    d = next;
  }
  return out;
}

const add = (m: Map<MonthIndex, number>, k: MonthIndex, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/** One invoice's recognition: gross by month, the refunds' split, and the revenue billed. */
export interface InvoiceSchedule {
  invoice: RecognitionInvoice;
  billed: number;
  recognized: Map<MonthIndex, number>;
  refunds: { refund: RecognitionRefund; revenue: number; fromDeferred: number; fromRevenue: number; tax: number }[];
}

/**
 * Recognition of one paid invoice and its refunds, in order. A refund on day r first fixes what
 * was recognized before r (the months before r's month as scheduled, and r's month's days before
 * r, rounded half up), then takes its revenue part out of what is left to recognize, pro rata over
 * the lines, and the remainder is recognized over the remaining days; a refund larger than what
 * is left comes out of revenue recognized in the refund's month. Nothing is recognized before the
 * invoice is paid: the months before its payment fall into the month it was paid.
 */
export function invoiceSchedule(invoice: RecognitionInvoice, refunds: RecognitionRefund[]): InvoiceSchedule {
  const billed = invoice.lines.reduce((a, l) => a + l.amount, 0);
  const fixed = new Map<MonthIndex, number>();
  let open: Piece[] = invoice.lines.map((l) => ({ amount: l.amount, start: dayOf(l.periodStart), end: dayOf(l.periodEnd) }));
  const split: InvoiceSchedule["refunds"] = [];
  for (const refund of [...refunds].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))) {
    // The refund's share of revenue; the rest of it returns tax.
    const revenue = invoice.total > 0 ? roundHalfUp(refund.amount * billed, invoice.total) : 0;
    const r = dayOf(refund.createdAt);
    const rm = monthOfDay(r);
    const still: Piece[] = [];
    for (const p of open) {
      if (r <= p.start) {
        still.push(p);
        continue;
      }
      const schedule = splitByMonth(p);
      if (r >= p.end) {
        for (const [m, v] of schedule) add(fixed, m, v);
        continue;
      }
      let done = 0;
      for (const [m, v] of schedule)
        if (m < rm) {
          add(fixed, m, v);
          done += v;
        }
      const partial = roundHalfUp(p.amount * (r - Math.max(p.start, firstDayOf(rm))), p.end - p.start);
      add(fixed, rm, partial);
      still.push({ amount: p.amount - done - partial, start: r, end: p.end });
    }
    const left = still.reduce((a, p) => a + p.amount, 0);
    const fromDeferred = left > 0 ? Math.max(0, Math.min(revenue, left)) : 0;
    let cut = 0;
    still.forEach((p, i) => {
      const share = i === still.length - 1 ? fromDeferred - cut : roundHalfUp(fromDeferred * p.amount, left);
      p.amount -= share;
      cut += share;
    });
    open = still;
    const fromRevenue = revenue - fromDeferred;
    add(fixed, rm, -fromRevenue);
    split.push({ refund, revenue, fromDeferred, fromRevenue, tax: refund.amount - revenue });
  }
  for (const p of open) for (const [m, v] of splitByMonth(p)) add(fixed, m, v);
  const paidMonth = monthOf(invoice.paidAt);
  const recognized = new Map<MonthIndex, number>();
  for (const [m, v] of fixed) add(recognized, Math.max(m, paidMonth), v);
  return { invoice, billed, recognized, refunds: split };
}

type Figures = Omit<RecognitionRow, "month" | "currency" | "deferred_opening" | "deferred_closing">;
const zero = (): Figures => ({ billed: 0, recognized: 0, refunded: 0, refunded_from_revenue: 0 });

/**
 * The months from..to per currency, and the journal of the events in them. `invoices` must hold
 * every paid invoice with anything deferred at `from`'s start or any event in the range;
 * `refunds` their refunds up to the range's end.
 */
export function recognitionSchedule(invoices: RecognitionInvoice[], refunds: RecognitionRefund[], from: MonthIndex, to: MonthIndex): { rows: RecognitionRow[]; journal: JournalLine[] } {
  const byInvoice = new Map<string, RecognitionRefund[]>();
  for (const r of refunds) byInvoice.set(r.invoiceId, [...(byInvoice.get(r.invoiceId) ?? []), r]);
  const opening = new Map<string, number>();
  const months = new Map<string, Map<MonthIndex, Figures>>();
  const events: { at: number; order: number; memo: string; currency: string; amounts: [JournalAccount, number][] }[] = [];
  const rangeStart = monthStart(from);
  const rangeEnd = monthStart(to + 1);
  const inRange = (at: number) => at >= rangeStart && at < rangeEnd;
  const figures = (currency: string, m: MonthIndex) => {
    const perMonth = months.get(currency) ?? months.set(currency, new Map()).get(currency)!;
    return perMonth.get(m) ?? perMonth.set(m, zero()).get(m)!;
  };
  const move = (currency: string, m: MonthIndex, k: keyof Figures, v: number) => {
    if (m < from) opening.set(currency, (opening.get(currency) ?? 0) + (k === "billed" ? v : k === "refunded_from_revenue" ? 0 : -v));
    else if (m <= to) figures(currency, m)[k] += v;
  };
  for (const invoice of invoices) {
    const s = invoiceSchedule(invoice, byInvoice.get(invoice.id) ?? []);
    const cur = invoice.currency;
    if (!opening.has(cur)) opening.set(cur, 0);
    move(cur, monthOf(invoice.paidAt), "billed", s.billed);
    for (const [m, v] of s.recognized) move(cur, m, "recognized", v);
    for (const x of s.refunds) {
      const m = monthOf(x.refund.createdAt);
      move(cur, m, "refunded", x.revenue);
      move(cur, m, "refunded_from_revenue", x.fromRevenue);
    }
    if (inRange(invoice.paidAt)) {
      // Cash is what Stripe collected; what the invoice asked beyond it was paid outside Stripe
      // (a receivable to match to the bank); the difference between total and amount due was
      // the customer's Stripe balance (a credit used, or a debt added).
      events.push({
        at: invoice.paidAt,
        order: 0,
        memo: `billed invoice ${invoice.id}`,
        currency: cur,
        amounts: [
          [JOURNAL_ACCOUNTS.cash, invoice.amountPaid],
          [JOURNAL_ACCOUNTS.receivable, invoice.amountDue - invoice.amountPaid],
          [JOURNAL_ACCOUNTS.customerBalance, invoice.total - invoice.amountDue],
          [JOURNAL_ACCOUNTS.deferred, -s.billed],
          [JOURNAL_ACCOUNTS.tax, -(invoice.total - s.billed)],
        ],
      });
    }
    for (const x of s.refunds) {
      if (!inRange(x.refund.createdAt)) continue;
      const credit = x.refund.kind === "credit_note";
      events.push({
        at: x.refund.createdAt,
        order: 1,
        memo: `${credit ? "credit note" : "refund"} ${x.refund.id} of invoice ${invoice.id}`,
        currency: cur,
        amounts: [
          [JOURNAL_ACCOUNTS.deferred, x.fromDeferred],
          [JOURNAL_ACCOUNTS.revenue, x.fromRevenue],
          [JOURNAL_ACCOUNTS.tax, x.tax],
          [credit ? JOURNAL_ACCOUNTS.customerBalance : JOURNAL_ACCOUNTS.cash, -x.refund.amount],
        ],
      });
    }
  }
  const rows: RecognitionRow[] = [];
  for (const currency of [...opening.keys()].sort()) {
    let deferred = opening.get(currency) ?? 0;
    for (let m = from; m <= to; m++) {
      const f = months.get(currency)?.get(m) ?? zero();
      const closing = deferred + f.billed - f.recognized - f.refunded;
      rows.push({ month: monthLabel(m), currency, deferred_opening: deferred, ...f, deferred_closing: closing });
      // Recognition is one entry per month end and currency; the part of a refund taken out of
      // revenue is in the refund's own entry, so this one is the month's gross recognition.
      const gross = f.recognized + f.refunded_from_revenue;
      if (gross !== 0)
        events.push({
          at: monthStart(m + 1) - DAY_MS,
          order: 2,
          memo: `recognized ${monthLabel(m)} ${currency}`,
          currency,
          amounts: [
            [JOURNAL_ACCOUNTS.deferred, gross],
            [JOURNAL_ACCOUNTS.revenue, -gross],
          ],
        });
      deferred = closing;
    }
  }
  rows.sort((a, b) => (a.month < b.month ? -1 : a.month > b.month ? 1 : a.currency < b.currency ? -1 : 1));
  events.sort((a, b) => dayOf(a.at) - dayOf(b.at) || a.order - b.order || a.at - b.at || (a.memo < b.memo ? -1 : 1));
  const journal: JournalLine[] = [];
  for (const e of events) {
    if (e.amounts.reduce((a, [, v]) => a + v, 0) !== 0) throw new Error(`journal entry "${e.memo}" does not balance`);
    for (const [account, v] of e.amounts) if (v !== 0) journal.push({ date: dateOf(e.at), account, debit: Math.max(v, 0), credit: Math.max(-v, 0), currency: e.currency, memo: e.memo });
  }
  return { rows, journal };
}

/**
 * The recognized revenue of the months `from`..`to` (default: the 12 months up to the clock's),
 * per currency, with the journal of their events. Reads the paid invoices still deferred at the
 * range's start or with an event in it, their lines, and their succeeded refunds.
 */
export async function revenueRecognition(deps: AnalyticsDeps, q: { from?: Month; to?: Month }): Promise<RevenueRecognition> {
  const range = parseRange(q.from, q.to, deps.clock.now(), RECOGNITION_MAX_MONTHS);
  const start = monthStart(range.from);
  const end = monthStart(range.to + 1);
  // Paid invoices with a line still recognized after the start, paid in the range, or refunded in it.
  const candidates = sql`with c as (
      select invoice_id as id from invoice_lines where period_end > ${start}
      union select id from invoices where status = 'paid' and paid_at >= ${start} and paid_at < ${end}
      union select invoice_id from refunds where created_at >= ${start} and created_at < ${end} and invoice_id is not null
      union select invoice_id from credit_notes where created_at >= ${start} and created_at < ${end} and status != 'void' and amount > refund_amount
    ), i as (select * from invoices where id in (select id from c) and status = 'paid' and paid_at is not null and paid_at < ${end})`;
  // One read of the candidates with their lines (the cost of the route, see the bench), and the
  // succeeded refunds up to the end by their time index: refunds are few beside invoices.
  const [lineRows, refundRows, creditRows, lineless] = await Promise.all([
    deps.db.all<{
      id: string;
      currency: string;
      total: number;
      amount_due: number;
      amount_paid: number;
      paid_at: number;
      line_id: string;
      amount: number;
      period_start: number;
      period_end: number;
    }>(
      sql`${candidates} select i.id, i.currency, i.total, i.amount_due, i.amount_paid, i.paid_at,
        l.id as line_id, l.amount, l.period_start, l.period_end from i join invoice_lines l on l.invoice_id = i.id`,
    ),
    deps.db.all<{ id: string; invoice_id: string; amount: number; created_at: number }>(
      sql`select id, invoice_id, amount, created_at from refunds where created_at < ${end} and status = 'succeeded' and invoice_id is not null`,
    ),
    // A credit note's refund part is a refund row already: only what it credited otherwise.
    deps.db.all<{ id: string; invoice_id: string; amount: number; created_at: number }>(
      sql`select id, invoice_id, amount - refund_amount as amount, created_at from credit_notes where created_at < ${end} and status != 'void' and amount > refund_amount`,
    ),
    // Whatever their paid date: one paid before the range may still be deferred in it.
    deps.db.get<{ n: number }>(
      sql`select count(*) as n from invoices i where i.status = 'paid' and i.paid_at is not null and i.paid_at < ${end} and not exists (select 1 from invoice_lines l where l.invoice_id = i.id)`,
    ),
  ]);
  const byId = new Map<string, RecognitionInvoice & { lineIds: string[] }>();
  for (const r of lineRows) {
    let inv = byId.get(r.id);
    if (!inv) {
      inv = { id: r.id, currency: r.currency, total: Number(r.total), amountDue: Number(r.amount_due), amountPaid: Number(r.amount_paid), paidAt: Number(r.paid_at), lines: [], lineIds: [] };
      byId.set(r.id, inv);
    }
    inv.lines.push({ amount: Number(r.amount), periodStart: Number(r.period_start), periodEnd: Number(r.period_end) });
    inv.lineIds.push(r.line_id);
  }
  const invoices: RecognitionInvoice[] = [];
  for (const { lineIds, ...inv } of byId.values()) {
    // A refund's share of each line depends on the lines' order: make it the same on every read.
    if (inv.lines.length > 1) {
      const order = inv.lines.map((l, k) => ({ l, id: lineIds[k]! })).sort((a, b) => a.l.periodStart - b.l.periodStart || (a.id < b.id ? -1 : 1));
      inv.lines = order.map((x) => x.l);
    }
    invoices.push(inv);
  }
  const refunds = [
    ...refundRows.filter((r) => byId.has(r.invoice_id)).map((r): RecognitionRefund => ({ id: r.id, invoiceId: r.invoice_id, amount: Number(r.amount), createdAt: Number(r.created_at) })),
    ...creditRows
      .filter((r) => byId.has(r.invoice_id))
      .map((r): RecognitionRefund => ({ id: r.id, invoiceId: r.invoice_id, amount: Number(r.amount), createdAt: Number(r.created_at), kind: "credit_note" })),
  ];
  return { from: range.label.from, to: range.label.to, ...recognitionSchedule(invoices, refunds, range.from, range.to), invoicesWithoutLines: Number(lineless?.n ?? 0) };
}
