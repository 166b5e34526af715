/**
 * Recognized revenue on the wire (GET /v1/analytics/revenue-recognition): the months per currency
 * as JSON, and the journal as CSV an accounting system imports. analytics/ builds both in wire
 * form (integer minor units, months as YYYY-MM, dates as YYYY-MM-DD).
 */
import { z } from "zod";
import type { RevenueRecognition } from "../analytics";

const Cents = z.int().describe("Integer minor units of the row's currency");

export const RecognitionRow = z.object({
  month: z.string().describe("YYYY-MM (UTC)"),
  currency: z.string().describe("ISO 4217, lower case"),
  deferred_opening: Cents.describe("Deferred revenue at the month's start: billed, not yet recognized nor refunded"),
  billed: Cents.describe("Revenue of the invoices paid in the month: lines after discounts, tax excluded"),
  recognized: Cents.describe("Revenue recognized in the month, net of refunds larger than their invoice's deferred balance"),
  refunded: Cents.describe("Revenue part (tax excluded) of the refunds made in the month, and of credit notes' parts credited to the balance or out of band"),
  refunded_from_revenue: Cents.describe("Of refunded, what exceeded the invoice's deferred balance and came out of recognized revenue"),
  deferred_closing: Cents.describe("deferred_opening + billed − recognized − refunded"),
});

export const RevenueRecognitionSchema = z.object({
  from: z.string().describe("First month, YYYY-MM"),
  to: z.string().describe("Last month, YYYY-MM"),
  rows: z.array(RecognitionRow).describe("One row per month and currency, by month then currency"),
  invoices_without_lines: z
    .int()
    .describe("Paid invoices up to the range's end without mirrored lines, left out of the rows (their service periods are unknown): run the admin resync, which fetches their lines"),
});
export type RevenueRecognitionWire = z.output<typeof RevenueRecognitionSchema>;

export function presentRevenueRecognition(r: RevenueRecognition): RevenueRecognitionWire {
  return { from: r.from, to: r.to, rows: r.rows.map((row) => ({ ...row })), invoices_without_lines: r.invoicesWithoutLines };
}

export const JOURNAL_COLUMNS = ["date", "account", "debit", "credit", "currency", "memo"] as const;

const cell = (v: string | number) => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

/** The journal, one line per account of each entry, amounts in integer minor units as the JSON; CRLF lines (RFC 4180). */
export function presentRecognitionJournalCsv(r: RevenueRecognition): string {
  const lines = [JOURNAL_COLUMNS.join(",")];
  for (const l of r.journal) lines.push(JOURNAL_COLUMNS.map((k) => cell(l[k])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
