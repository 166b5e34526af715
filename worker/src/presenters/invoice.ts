/** An invoice on the wire (GET /v1/invoices): amounts in integer cents, periods as RFC 3339 instants. */
import { z } from "zod";
import type { InvoicePage, InvoiceView } from "../subscriptions";
import { INVOICE_STATUSES } from "../db/schema";
import { Instant, instantOfSeconds } from "../instant";

export const Invoice = z.object({
  id: z.string(),
  number: z.string().nullable(),
  status: z.enum(INVOICE_STATUSES),
  amount_due: z.int().describe("Integer cents"),
  amount_paid: z.int().describe("Integer cents"),
  amount_credited: z.int().describe("Integer cents credited by credit notes after payment (refunds and balance credits)"),
  subtotal: z.int().describe("Integer cents"),
  tax: z.int().describe("Integer cents"),
  total: z.int().describe("Integer cents"),
  currency: z.string(),
  period_start: Instant.nullable(),
  period_end: Instant.nullable(),
  hosted_invoice_url: z.string().nullable(),
  lines: z.array(z.object({ description: z.string().nullable(), amount: z.int().describe("Integer cents"), proration: z.boolean() })),
});
export type InvoiceWire = z.output<typeof Invoice>;

export function presentInvoice(v: InvoiceView): InvoiceWire {
  return { ...v, period_start: instantOfSeconds(v.period_start), period_end: instantOfSeconds(v.period_end), lines: v.lines.map((l) => ({ ...l })) };
}

export const InvoicePageSchema = z.object({ data: z.array(Invoice), has_more: z.boolean() });

export function presentInvoicePage(p: InvoicePage): z.output<typeof InvoicePageSchema> {
  return { data: p.data.map(presentInvoice), has_more: p.has_more };
}
