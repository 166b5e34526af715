/** Buying seats for an organization in a worker test (POST /v1/organizations), shared by the tests of its term. */
import { eq } from "drizzle-orm";
import { organizationMembers, organizations } from "../../worker/src/db/schema";
import { call } from "./helpers";
import { db } from "./stripe-helpers";

let n = 0;
export const newOrgId = () => `org_${Date.now().toString(36)}_t${++n}`;

export const agencyBody = (orgId: string, extra: Record<string, unknown> = {}) => ({
  org_id: orgId,
  name: "Office of Personnel Transition",
  billing_email: "ap@agency.example.gov",
  address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
  tax_id: "12-3456789",
  po_number: "PO-2026-0042",
  seats: 25,
  term_months: 12,
  ...extra,
});

export interface OrganizationWire {
  org_id: string;
  seats: number;
  seats_assigned: number;
  term: { start: string; end: string; months: number };
  status: string;
  po_number: string | null;
  invoices: { id: string; number: string | null; status: string; amount_due: number; currency: string; due_date: string | null; hosted_invoice_url: string | null }[];
}

/** An organization bought with `key` (a service key); its D1 row. */
export async function buyOrganization(key: string, extra: Record<string, unknown> = {}) {
  const orgId = newOrgId();
  const res = await call("POST", "/v1/organizations", { key, body: agencyBody(orgId, extra) });
  if (res.status !== 201) throw new Error(`POST /v1/organizations answered ${res.status}: ${await res.text()}`);
  const org = await res.json<OrganizationWire>();
  const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
  return { orgId, org, row };
}

/** Seats taken straight in D1, for tests of what seats assigned forbid (members are organizations/members.ts's). */
export async function takeSeats(orgId: string, users: number): Promise<void> {
  for (let i = 0; i < users; i++)
    await db()
      .insert(organizationMembers)
      .values({ orgId, userId: `${orgId}_user_${i}`, assignedAt: Date.now() });
}
