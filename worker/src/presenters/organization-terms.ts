/** What changes an organization's term on the wire (seats, renewal): amounts in integer cents, instants in RFC 3339. */
import { z } from "zod";
import { Instant, instant, instantOfSeconds } from "../instant";
import type { OrganizationInvoice, Renewal, SeatsChange } from "../organizations";
import { OrganizationInvoiceSchema } from "./organization";

export type OrganizationInvoiceWire = z.output<typeof OrganizationInvoiceSchema>;

export function presentOrganizationInvoice(i: OrganizationInvoice): OrganizationInvoiceWire {
  return { ...i, due_date: instantOfSeconds(i.due_date) };
}

export const SeatsChangeSchema = z.object({
  org_id: z.string(),
  seats: z.int().describe("Seats held now"),
  seats_next_term: z.int().nullable().describe("Fewer seats asked for: the seats the next term starts with (a renewal buys these unless it names others)"),
  effective: z.enum(["now", "term_end"]).describe("now: more seats, usable at once; term_end: fewer seats, from the next term"),
  amount_due_now: z.int().describe("Integer cents: Stripe's prorated amount for the added seats over the rest of the term (0 for fewer)"),
  currency: z.string(),
  invoice: OrganizationInvoiceSchema.nullable().describe("The prorated invoice of the added seats, sent on net terms"),
});
export type SeatsChangeWire = z.output<typeof SeatsChangeSchema>;

export function presentSeatsChange(c: SeatsChange): SeatsChangeWire {
  return {
    org_id: c.orgId,
    seats: c.seats,
    seats_next_term: c.seatsNextTerm,
    effective: c.effective,
    amount_due_now: c.amountDueNow,
    currency: c.currency,
    invoice: c.invoice ? presentOrganizationInvoice(c.invoice) : null,
  };
}

export const RenewalSchema = z.object({
  org_id: z.string(),
  next_term: z.object({
    start: Instant.describe("Where the current term ends: no gap in the seats' access"),
    end: Instant.describe("The next term ends here, again without renewing by itself"),
    months: z.int(),
    seats: z.int(),
    po_number: z.string().nullable(),
  }),
  invoice: z
    .object({
      amount_due: z.int().describe("Integer cents, Stripe's preview of the next term's invoice"),
      currency: z.string(),
      issued_at: Instant.describe("Stripe issues the next term's invoice when the term starts"),
      due_date: Instant.nullable().describe("On the organization's net terms from the issue date"),
    })
    .describe("The next term's invoice, as Stripe previews it"),
});
export type RenewalWire = z.output<typeof RenewalSchema>;

export function presentRenewal(r: Renewal): RenewalWire {
  return {
    org_id: r.orgId,
    next_term: { start: instant(r.start * 1000), end: instant(r.end * 1000), months: r.months, seats: r.seats, po_number: r.poNumber },
    invoice: { amount_due: r.invoice.amountDue, currency: r.invoice.currency, issued_at: instant(r.invoice.issuedAt * 1000), due_date: instantOfSeconds(r.invoice.dueDate) },
  };
}
