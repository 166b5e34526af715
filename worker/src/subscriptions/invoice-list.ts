/**
 * A user's invoices, newest first, for a billing history page. The page comes from the mirror
 * (amounts, status, periods); the invoice number and the lines, which the mirror does not keep,
 * are read from Stripe for the invoices of the page only. Times are unix seconds.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { newestFirstPage } from "../db/page";
import { invoices } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import type { Stripe } from "../stripe-sync";

export interface InvoiceLine {
  description: string | null;
  amount: number;
  proration: boolean;
}

export interface InvoiceView {
  id: string;
  number: string | null;
  status: (typeof invoices.$inferSelect)["status"];
  amount_due: number;
  amount_paid: number;
  /** Credit notes issued after payment (refunds and balance credits), integer cents. */
  amount_credited: number;
  subtotal: number;
  tax: number;
  total: number;
  currency: string;
  period_start: number | null;
  period_end: number | null;
  hosted_invoice_url: string | null;
  lines: InvoiceLine[];
}

export interface InvoicePage {
  data: InvoiceView[];
  has_more: boolean;
}

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

type InvoiceRow = typeof invoices.$inferSelect;

/** An invoice's view: the mirror's row, with the number and lines that only Stripe keeps. */
export function invoiceView(row: InvoiceRow, number: string | null, lines: InvoiceLine[]): InvoiceView {
  return {
    id: row.id,
    number,
    status: row.status,
    amount_due: row.amountDue,
    amount_paid: row.amountPaid,
    amount_credited: row.amountCredited,
    subtotal: row.subtotal,
    tax: row.tax,
    total: row.total,
    currency: row.currency,
    period_start: seconds(row.periodStart),
    period_end: seconds(row.periodEnd),
    hosted_invoice_url: row.hostedInvoiceUrl,
    lines,
  };
}

export async function mirroredInvoices(db: Db, userId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<{ rows: InvoiceRow[]; hasMore: boolean }> {
  return newestFirstPage(
    db,
    invoices,
    eq(invoices.userId, userId),
    opts,
    (id) => new DomainError("validation_failed", `The invoice ${id} is not one of this user's invoices.`, { errors: [{ field: "starting_after", message: "not an invoice of this user" }] }),
  );
}

export async function listInvoices(deps: Pick<Services, "db" | "stripe">, userId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<InvoicePage> {
  const page = await mirroredInvoices(deps.db, userId, opts);
  const fetched = await fromStripe(deps.stripe, page.rows);
  // A draft deleted in Stripe since the mirror saw it: the mirror's row still stands, without lines.
  const data = page.rows.map((row) => invoiceView(row, fetched.get(row.id)?.number ?? null, fetched.get(row.id)?.lines ?? []));
  return { data, has_more: page.hasMore };
}

export function lineOf(l: Stripe.InvoiceLineItem): InvoiceLine {
  const proration = l.parent?.subscription_item_details?.proration ?? l.parent?.invoice_item_details?.proration ?? false;
  return { description: l.description ?? null, amount: l.amount, proration };
}

/**
 * The number and every line of a page's invoices: one list call per customer over the page's
 * time span (not one call per invoice, which would spend a Worker's subrequests on a long page),
 * then the rest of the lines only for an invoice with more than Stripe sends in the list.
 */
async function fromStripe(stripe: Stripe, rows: InvoiceRow[]): Promise<Map<string, { number: string | null; lines: InvoiceLine[] }>> {
  const out = new Map<string, { number: string | null; lines: InvoiceLine[] }>();
  const byCustomer = new Map<string, InvoiceRow[]>();
  for (const r of rows) byCustomer.set(r.customerId, [...(byCustomer.get(r.customerId) ?? []), r]);
  for (const [customer, mine] of byCustomer) {
    const wanted = new Set(mine.map((r) => r.id));
    const created = { gte: Math.floor(Math.min(...mine.map((r) => r.createdAt)) / 1000), lte: Math.ceil(Math.max(...mine.map((r) => r.createdAt)) / 1000) };
    for await (const inv of stripe.invoices.list({ customer, created, limit: 100 })) {
      if (!wanted.delete(inv.id)) continue;
      const items = inv.lines.has_more ? await allLines(stripe, inv.id) : inv.lines.data;
      out.set(inv.id, { number: inv.number ?? null, lines: items.map(lineOf) });
      if (wanted.size === 0) break;
    }
  }
  return out;
}

async function allLines(stripe: Stripe, invoiceId: string): Promise<Stripe.InvoiceLineItem[]> {
  const items: Stripe.InvoiceLineItem[] = [];
  for await (const l of stripe.invoices.listLineItems(invoiceId, { limit: 100 })) items.push(l);
  return items;
}
