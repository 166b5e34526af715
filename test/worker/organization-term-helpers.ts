/** Buying seats for an organization in a worker test (POST /v1/organizations), shared by the tests of its term (seats, payments, renewal, reminders). */
import { eq } from "drizzle-orm";
import { organizations } from "../../worker/src/db/schema";
import { call } from "./helpers";
import { agencyBody } from "./organization-helpers";
import { db, stripe, testClock } from "./stripe-helpers";

let n = 0;
export const newOrgId = () => `org_${Date.now().toString(36)}_t${++n}`;

export interface OrganizationWire {
  org_id: string;
  seats: number;
  seats_assigned: number;
  term: { start: string; end: string; months: number };
  status: string;
  po_number: string | null;
  tax_exempt: boolean;
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

/** `users` seats of the organization given to new users (PUT …/members/{user_id}). */
export async function takeSeats(key: string, orgId: string, users: number): Promise<void> {
  for (let i = 0; i < users; i++) {
    const res = await call("PUT", `/v1/organizations/${orgId}/members/${orgId}_user_${i}`, { key });
    if (res.status !== 200) throw new Error(`PUT …/members answered ${res.status}: ${await res.text()}`);
  }
}

/**
 * An organization bought on a test clock of its own, the clock moved `days` on, and Stripe's
 * preview of its seats raised to `seats` there, prorated and invoiced at once (what POST
 * …/seats confirms): the organization, its subscription, the clock's time (unix s), the preview.
 */
export async function seatsPreviewOnDay(key: string, days: number, seats: number, extra: Record<string, unknown> = {}) {
  const clock = await testClock();
  const { orgId, row } = await buyOrganization(key, { ...extra, test_clock: clock.id });
  await clock.advanceDays(days);
  const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
  const now = (await stripe().testHelpers.testClocks.retrieve(clock.id)).frozen_time;
  const preview = await stripe().invoices.createPreview({
    subscription: sub.id,
    subscription_details: { items: [{ id: sub.items.data[0]!.id, quantity: seats }], proration_behavior: "always_invoice", proration_date: now },
  });
  return { orgId, row, sub, now, preview };
}
