/**
 * An organization buys seats for a fixed term (POST /v1/organizations): one Stripe customer with
 * its billing address (and EIN), one subscription of `seats` seats of the term's price, sent as
 * an invoice on net terms (`send_invoice`, `days_until_due` from the policy) with the PO number
 * and the organization's name as invoice custom fields, Stripe Tax on the billing address, and
 * the term's end as `cancel_at`, so nothing renews by itself (a federal contract cannot). The
 * first invoice is finalized and sent; nothing is charged.
 *
 * The row is claimed `pending` before anything is made in Stripe, so a second request for the
 * same org_id is a 409 instead of a second customer; Stripe's writes carry idempotency keys made
 * from the request, so a run again after a failure gets the same objects back. A request for an
 * org_id still pending (a run that failed after Stripe's writes, e.g. at the D1 write) runs the
 * Stripe steps again and finishes the purchase.
 */
import { and, eq } from "drizzle-orm";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, termPrice, type Catalog } from "../catalog";
import { canonicalJson, sha256Hex } from "../crypto";
import { organizations } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import type { OrganizationPurchaseBody } from "../fields";
import type { Services } from "../services";
import { emptyTargets, idOf, isMissing, isTaxLocationInvalid, syncObjects, type Stripe } from "../stripe-sync";
import { requirePriceId } from "../subscriptions";
import { organizationView, type OrganizationView } from "./view";

export interface Address {
  line1: string;
  line2?: string | undefined;
  city: string;
  state: string;
  postal_code: string;
  country: string;
}

export interface OrganizationInput {
  orgId: string;
  name: string;
  billingEmail: string;
  address: Address;
  taxId?: string | undefined;
  /** Exempt from sales tax: the customer is `tax_exempt: "exempt"`, so Stripe Tax puts none on its invoices. */
  taxExempt?: boolean | undefined;
  poNumber?: string | undefined;
  seats: number;
  termMonths: number;
  testClock?: string | undefined;
}

/** The domain's input from the purchase as the API and the tools take it (fields.ts `OrganizationPurchase`). */
export function organizationInput(b: OrganizationPurchaseBody): OrganizationInput {
  return {
    orgId: b.org_id,
    name: b.name,
    billingEmail: b.billing_email,
    address: b.address,
    taxId: b.tax_id,
    taxExempt: b.tax_exempt,
    poNumber: b.po_number,
    seats: b.seats,
    termMonths: b.term_months,
    testClock: b.test_clock,
  };
}

export type OrganizationDeps = Pick<Services, "db" | "stripe" | "stripeMode" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

/** The invoice custom fields of every invoice of the term (Stripe prints them in the header). */
export function customFields(input: Pick<OrganizationInput, "name" | "poNumber">): Stripe.SubscriptionCreateParams.InvoiceSettings.CustomField[] {
  // Stripe's field names are at most 40 characters, its values 140 (fields.ts keeps both within).
  return [...(input.poNumber !== undefined ? [{ name: "PO number", value: input.poNumber }] : []), { name: "Agency", value: input.name }];
}

export async function createOrganization(deps: OrganizationDeps, who: Actor, input: OrganizationInput, from: Catalog = defaultCatalog): Promise<OrganizationView> {
  const policy = from.policy.organizations;
  const term = termPrice(input.termMonths, from);
  if (!term) throw invalidInput("term_months", `must be one of ${policy.terms.map((t) => t.months).join(", ")}`, `There is no ${input.termMonths}-month term.`);
  if (input.seats < 1 || input.seats > policy.max_seats) throw invalidInput("seats", `must be 1 to ${policy.max_seats}`, `An organization buys 1 to ${policy.max_seats} seats.`);
  if (input.testClock !== undefined && deps.stripeMode === "live") throw invalidInput("test_clock", "test clocks exist only in test mode", "test_clock can only be used with a Stripe test key.");

  // Refusals the mirror and Stripe can answer before anything is written.
  const existing = await deps.db.select({ status: organizations.status }).from(organizations).where(eq(organizations.orgId, input.orgId)).get();
  // A pending row is a purchase whose last run stopped after (or while) Stripe made its objects:
  // this run makes them again under the same idempotency keys, gets the same ones back, and finishes.
  if (existing && existing.status !== "pending") throw taken(input.orgId);
  const priceId = await requirePriceId(deps, term.price.lookupKey);
  if (input.testClock !== undefined) {
    await deps.stripe.testHelpers.testClocks.retrieve(input.testClock).catch((e: unknown) => {
      if (isMissing(e)) throw invalidInput("test_clock", "no such test clock", `There is no test clock ${input.testClock}.`);
      throw e;
    });
  }

  const now = deps.clock.now();
  const claimed = existing
    ? [{ orgId: input.orgId }]
    : await deps.db
        .insert(organizations)
        .values({
          orgId: input.orgId,
          name: input.name,
          billingEmail: input.billingEmail,
          seats: input.seats,
          termMonths: input.termMonths,
          poNumber: input.poNumber ?? null,
          status: "pending",
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing()
        .returning({ orgId: organizations.orgId });
  if (claimed.length === 0) throw taken(input.orgId);

  // A failure part way leaves the row pending (not deleted): Stripe's objects made so far stay, and
  // the retry (the same Idempotency-Key, or the same body) gets them back and finishes.
  const { customer, sub, invoiceId } = await makeInStripe(deps, who, input, priceId, policy.days_until_due).catch(async (e: unknown) => {
    if (!isTaxLocationInvalid(e)) throw e;
    // Refused at the customer, the first Stripe step: nothing was made, so the row this run claimed goes too.
    if (!existing) await deps.db.delete(organizations).where(and(eq(organizations.orgId, input.orgId), eq(organizations.status, "pending")));
    throw invalidInput("address", "Stripe Tax cannot place this address", "Stripe Tax cannot place this address for sales tax: check that the postal code belongs to the state.");
  });
  const item = sub.items.data[0]!;
  const termStart = item.current_period_start * 1000;
  const termEnd = (sub.cancel_at ?? item.current_period_end) * 1000;
  const targets = emptyTargets();
  targets.customers.add(customer.id);
  targets.subscriptions.add(sub.id);
  if (invoiceId) targets.invoices.add(invoiceId);
  // The organization becomes active with the mirror of what Stripe made, and one audit row says who bought what.
  await syncObjects(deps, { actor: who, cause: "organization.created", at: sub.created * 1000 }, targets, {
    statements: () => [
      deps.db
        .update(organizations)
        .set({
          // A retry of a pending purchase may carry a corrected body: the row says what Stripe made.
          name: input.name,
          billingEmail: input.billingEmail,
          seats: input.seats,
          termMonths: input.termMonths,
          poNumber: input.poNumber ?? null,
          customerId: customer.id,
          subscriptionId: sub.id,
          termStart,
          termEnd,
          status: "active",
          updatedAt: deps.clock.now(),
          version: 1,
        })
        .where(and(eq(organizations.orgId, input.orgId), eq(organizations.status, "pending"))),
    ],
    entries: [
      {
        actor: who,
        action: "organization.created",
        subject: { type: "organization", id: input.orgId },
        after: {
          customer: customer.id,
          subscription: sub.id,
          invoice: invoiceId,
          seats: input.seats,
          term_months: input.termMonths,
          term_start: termStart,
          term_end: termEnd,
          po_number: input.poNumber ?? null,
        },
      },
    ],
  });
  return organizationView(deps, input.orgId);
}

function taken(orgId: string): DomainError {
  return new DomainError("conflict", `The organization ${orgId} exists already; change its seats or renew it instead.`, { errors: [{ field: "org_id", message: "already exists" }] });
}

async function makeInStripe(
  deps: OrganizationDeps,
  who: Actor,
  input: OrganizationInput,
  priceId: string,
  daysUntilDue: number,
): Promise<{ customer: Stripe.Customer; sub: Stripe.Subscription; invoiceId: string | null }> {
  const stripe = deps.stripe;
  // The same request (or the same Idempotency-Key) gets the same objects; another body for the org_id gets others.
  const digest = await sha256Hex(canonicalJson({ input, key: who.idempotencyKey ?? null }));
  const key = (step: string) => `organization:${input.orgId}:${digest}:${step}`;
  const metadata = { org_id: input.orgId };
  const customer = await stripe.customers.create(
    {
      name: input.name,
      email: input.billingEmail,
      address: { ...input.address },
      metadata,
      ...(input.taxId !== undefined ? { tax_id_data: [{ type: "us_ein" as const, value: input.taxId }] } : {}),
      ...(input.taxExempt === true ? { tax_exempt: "exempt" as const } : {}),
      ...(input.testClock !== undefined ? { test_clock: input.testClock } : {}),
      // The subscription below is taxed automatically, and Stripe refuses to make one for an address
      // Stripe Tax cannot place: checked now, before anything is made, instead of after the customer.
      tax: { validate_location: "immediately" },
    },
    { idempotencyKey: key("customer") },
  );
  const created = await stripe.subscriptions.create(
    {
      customer: customer.id,
      items: [{ price: priceId, quantity: input.seats }],
      collection_method: "send_invoice",
      days_until_due: daysUntilDue,
      // Sales tax from the billing address, as individual Checkout does (Stripe Tax): an address
      // that owes none (or a customer Stripe has as tax exempt) gets none.
      automatic_tax: { enabled: true },
      invoice_settings: { custom_fields: customFields(input) },
      metadata: { ...metadata, term_months: String(input.termMonths) },
      // The term is one period of its price (12, 24 or 36 months) and ends where that period ends,
      // to the second Stripe counts. Set in the create call itself, so no moment exists, even
      // after a failure right here, where the subscription would renew by itself.
      cancel_at_period_end: true,
    },
    { idempotencyKey: key("subscription") },
  );
  // A subscription made by an earlier run, before its cancel_at was part of the create call, gets it now.
  const periodEnd = created.items.data[0]!.current_period_end;
  const sub = created.cancel_at === periodEnd ? created : await stripe.subscriptions.update(created.id, { cancel_at: periodEnd, proration_behavior: "none" }, { idempotencyKey: key("term") });
  let invoiceId = idOf(sub.latest_invoice ?? null);
  if (invoiceId) {
    const inv = await stripe.invoices.retrieve(invoiceId);
    const open = inv.status === "draft" ? await stripe.invoices.finalizeInvoice(inv.id, {}, { idempotencyKey: key("finalize") }) : inv;
    // Sent to the billing email: the invoice an agency's payment office acts on.
    if (open.status === "open") await stripe.invoices.sendInvoice(open.id, {}, { idempotencyKey: key("send") });
    invoiceId = open.id;
  }
  return { customer, sub, invoiceId };
}
