/**
 * An organization as the API shows it: the row, the seats taken, and its invoices as Stripe has
 * them now (number, due date and the page to pay are Stripe's, not the mirror's).
 */
import { count, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { organizationMembers, organizations, subscriptions, type OrganizationStatus } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import type { Stripe } from "../stripe-sync";

export type OrganizationRow = typeof organizations.$inferSelect;

export interface OrganizationInvoice {
  id: string;
  number: string | null;
  status: string;
  amount_due: number;
  currency: string;
  /** Unix seconds (Stripe's). */
  due_date: number | null;
  hosted_invoice_url: string | null;
}

export interface OrganizationView {
  orgId: string;
  name: string;
  billingEmail: string;
  seats: number;
  seatsAssigned: number;
  termMonths: number;
  termStart: number | null;
  termEnd: number | null;
  poNumber: string | null;
  /** As Stripe has the customer: `tax_exempt: "exempt"`. */
  taxExempt: boolean;
  status: OrganizationStatus;
  invoices: OrganizationInvoice[];
}

export async function readOrganizationRow(db: Db, orgId: string): Promise<OrganizationRow | undefined> {
  return db.select().from(organizations).where(eq(organizations.orgId, orgId)).get();
}

/** The organization, or a 404 naming `org_id`; one still being created (pending) is not there yet. */
export async function requireOrganization(db: Db, orgId: string): Promise<OrganizationRow> {
  const row = await readOrganizationRow(db, orgId);
  if (!row || row.status === "pending") throw new DomainError("not_found", `There is no organization ${orgId}.`, { errors: [{ field: "org_id", message: "no such organization" }] });
  return row;
}

export async function seatsAssigned(db: Db, orgId: string): Promise<number> {
  const row = await db.select({ n: count() }).from(organizationMembers).where(eq(organizationMembers.orgId, orgId)).get();
  return row?.n ?? 0;
}

/**
 * Active through the term; ended once Stripe has ended the subscription (its `cancel_at`, the
 * term's end, passed without a renewal) as the mirror has it.
 */
export async function organizationStatus(db: Db, row: OrganizationRow): Promise<OrganizationStatus> {
  if (row.status !== "active" || row.subscriptionId === null) return row.status;
  const sub = await db.select({ status: subscriptions.status }).from(subscriptions).where(eq(subscriptions.id, row.subscriptionId)).get();
  return sub && (sub.status === "canceled" || sub.status === "incomplete_expired") ? "ended" : "active";
}

export function invoiceOf(inv: Stripe.Invoice): OrganizationInvoice {
  return {
    id: inv.id,
    number: inv.number ?? null,
    status: inv.status ?? "draft",
    amount_due: inv.amount_due,
    currency: inv.currency,
    due_date: inv.due_date ?? null,
    hosted_invoice_url: inv.hosted_invoice_url ?? null,
  };
}

export async function organizationView(deps: Pick<Services, "db" | "stripe">, orgId: string): Promise<OrganizationView> {
  const row = await requireOrganization(deps.db, orgId);
  const invoices: OrganizationInvoice[] = [];
  let taxExempt = false;
  if (row.customerId !== null) {
    // Newest first, as Stripe lists them; an organization has one invoice a term and a few for
    // added seats. A draft is not an invoice the agency has been sent yet.
    const [page, customer] = await Promise.all([deps.stripe.invoices.list({ customer: row.customerId, limit: 100 }), deps.stripe.customers.retrieve(row.customerId)]);
    for (const inv of page.data) if (inv.status !== "draft") invoices.push(invoiceOf(inv));
    // Stripe's customer, not a copy: an exemption set or lifted in the Dashboard is what the invoices follow.
    taxExempt = !customer.deleted && customer.tax_exempt === "exempt";
  }
  return {
    orgId: row.orgId,
    name: row.name,
    billingEmail: row.billingEmail,
    seats: row.seats,
    seatsAssigned: await seatsAssigned(deps.db, orgId),
    termMonths: row.termMonths,
    termStart: row.termStart,
    termEnd: row.termEnd,
    poNumber: row.poNumber,
    taxExempt,
    status: await organizationStatus(deps.db, row),
    invoices,
  };
}
