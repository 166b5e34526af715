/**
 * A user's invoices, newest first, for a billing history page. The page comes from the mirror
 * (amounts, status, periods); the invoice number and the lines, which the mirror does not keep,
 * are read from Stripe for the invoices of the page only. Times are unix seconds.
 */
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { invoices } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import type { Stripe } from "./stripe";

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

/** How many invoices of a page are read from Stripe at once. */
const CONCURRENCY = 8;

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

type InvoiceRow = typeof invoices.$inferSelect;

export async function mirroredInvoices(db: Db, userId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<{ rows: InvoiceRow[]; hasMore: boolean }> {
  const where = [eq(invoices.userId, userId)];
  if (opts.startingAfter !== undefined) {
    const cursor = await db
      .select({ id: invoices.id, createdAt: invoices.createdAt })
      .from(invoices)
      .where(and(eq(invoices.id, opts.startingAfter), eq(invoices.userId, userId)))
      .get();
    if (!cursor) throw new DomainError("validation_failed", `The invoice ${opts.startingAfter} is not one of this user's invoices.`, { errors: [{ field: "starting_after", message: "not an invoice of this user" }] });
    where.push(or(lt(invoices.createdAt, cursor.createdAt), and(eq(invoices.createdAt, cursor.createdAt), lt(invoices.id, cursor.id)))!);
  }
  const rows = await db
    .select()
    .from(invoices)
    .where(and(...where))
    .orderBy(desc(invoices.createdAt), desc(invoices.id))
    .limit(opts.limit + 1)
    .all();
  return { rows: rows.slice(0, opts.limit), hasMore: rows.length > opts.limit };
}

export async function listInvoices(deps: Pick<Services, "db" | "stripe">, userId: string, opts: { limit: number; startingAfter?: string | undefined }): Promise<InvoicePage> {
  const page = await mirroredInvoices(deps.db, userId, opts);
  const data = await mapLimited(page.rows, CONCURRENCY, async (row) => {
    const { number, lines } = await fromStripe(deps.stripe, row.id);
    return {
      id: row.id,
      number,
      status: row.status,
      amount_due: row.amountDue,
      amount_paid: row.amountPaid,
      subtotal: row.subtotal,
      tax: row.tax,
      total: row.total,
      currency: row.currency,
      period_start: seconds(row.periodStart),
      period_end: seconds(row.periodEnd),
      hosted_invoice_url: row.hostedInvoiceUrl,
      lines,
    };
  });
  return { data, has_more: page.hasMore };
}

function lineOf(l: Stripe.InvoiceLineItem): InvoiceLine {
  const proration = l.parent?.subscription_item_details?.proration ?? l.parent?.invoice_item_details?.proration ?? false;
  return { description: l.description ?? null, amount: l.amount, proration };
}

/** The invoice's number and every line (the invoice carries the first lines; the rest are paged). */
async function fromStripe(stripe: Stripe, invoiceId: string): Promise<{ number: string | null; lines: InvoiceLine[] }> {
  const inv = await stripe.invoices.retrieve(invoiceId).catch((e: unknown) => {
    // A draft deleted in Stripe since the mirror saw it: the mirror's row still stands.
    if ((e as { code?: string })?.code === "resource_missing") return null;
    throw e;
  });
  if (!inv) return { number: null, lines: [] };
  let items = inv.lines.data;
  if (inv.lines.has_more) {
    items = [];
    for await (const l of stripe.invoices.listLineItems(invoiceId, { limit: 100 })) items.push(l);
  }
  return { number: inv.number ?? null, lines: items.map(lineOf) };
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
