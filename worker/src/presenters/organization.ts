/** An organization on the wire (POST and GET /v1/organizations): amounts in integer cents, instants in RFC 3339. */
import { z } from "zod";
import { ORGANIZATION_STATUSES } from "../db/schema";
import { Instant, instant, instantOfSeconds, instantOrNull } from "../instant";
import { type Member, type MemberPage, type OrganizationView, PAYMENT_METHODS, type RecordedPayment } from "../organizations";

export const OrganizationInvoiceSchema = z.object({
  id: z.string().describe("Stripe's invoice id (in_...)"),
  number: z.string().nullable(),
  status: z.string().describe("Stripe's: open, paid, void, uncollectible"),
  amount_due: z.int().describe("Integer cents"),
  currency: z.string(),
  due_date: Instant.nullable().describe("When payment is due (net terms)"),
  hosted_invoice_url: z.string().nullable().describe("Stripe's page of the invoice, where it can be read, downloaded and paid"),
});

export const Organization = z.object({
  org_id: z.string(),
  name: z.string(),
  billing_email: z.string(),
  seats: z.int().describe("Seats bought"),
  seats_assigned: z.int().describe("Seats held by members"),
  term: z.object({ start: Instant.nullable(), end: Instant.nullable(), months: z.int() }),
  renewal: z.literal("manual").describe("A term never renews by itself: POST …/renew starts the next"),
  status: z.enum(ORGANIZATION_STATUSES).describe("active through the term, ended after it; suspended while an invoice is later than a policy that sets suspend_after_days_overdue allows"),
  po_number: z.string().nullable(),
  tax_exempt: z.boolean().describe('Exempt from sales tax: its Stripe customer is tax_exempt "exempt"'),
  invoices: z.array(OrganizationInvoiceSchema).describe("Newest first"),
});
export type OrganizationWire = z.output<typeof Organization>;

export function presentOrganization(v: OrganizationView): OrganizationWire {
  return {
    org_id: v.orgId,
    name: v.name,
    billing_email: v.billingEmail,
    seats: v.seats,
    seats_assigned: v.seatsAssigned,
    term: { start: instantOrNull(v.termStart), end: instantOrNull(v.termEnd), months: v.termMonths },
    renewal: "manual",
    status: v.status,
    po_number: v.poNumber,
    tax_exempt: v.taxExempt,
    invoices: v.invoices.map((i) => ({ ...i, due_date: instantOfSeconds(i.due_date) })),
  };
}

export const OrganizationMember = z.object({
  org_id: z.string(),
  user_id: z.string(),
  assigned_at: Instant,
});
export type OrganizationMemberWire = z.output<typeof OrganizationMember>;

export function presentMember(m: Member): OrganizationMemberWire {
  return { org_id: m.orgId, user_id: m.userId, assigned_at: instant(m.assignedAt) };
}

export function presentMemberPage(p: MemberPage): { data: OrganizationMemberWire[]; has_more: boolean } {
  return { data: p.data.map(presentMember), has_more: p.has_more };
}

export const OrganizationPayment = z.object({
  invoice_id: z.string(),
  amount: z.int().describe("Integer cents: what the invoice had left to pay"),
  currency: z.string(),
  method: z.enum(PAYMENT_METHODS),
  reference: z.string(),
  paid_at: Instant,
});
export type OrganizationPaymentWire = z.output<typeof OrganizationPayment>;

export function presentPayment(p: RecordedPayment): OrganizationPaymentWire {
  return { invoice_id: p.invoiceId, amount: p.amount, currency: p.currency, method: p.method, reference: p.reference, paid_at: instantOfSeconds(p.paidAt)! };
}
