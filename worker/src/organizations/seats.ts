/**
 * More seats for the rest of the term (POST /v1/organizations/{org_id}/seats): the subscription's
 * quantity rises now and Stripe invoices the prorated difference at once on the same net terms
 * (`always_invoice`), the amount being Stripe's preview at the same proration moment. With
 * `expected_amount_due_now` (what the buyer was shown), a fresh preview must agree, else 409
 * `amount_changed` and nothing is changed. Fewer seats wait for the term's end: a term is prepaid,
 * so they are asked for at renewal; below the seats assigned is refused either way.
 */
import { eq, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { organizations } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import type { Services } from "../services";
import { emptyTargets, idOf, syncObjects } from "../stripe-sync";
import { organizationStatus, organizationView, requireOrganization, seatsAssigned, type OrganizationView } from "./view";

export type SeatDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

export async function addSeats(
  deps: SeatDeps,
  who: Actor,
  orgId: string,
  input: { seats: number; expectedAmountDueNow?: number | undefined },
  from: Catalog = defaultCatalog,
): Promise<OrganizationView> {
  const max = from.policy.organizations.max_seats;
  if (input.seats < 1 || input.seats > max) throw invalidInput("seats", `must be 1 to ${max}`, `An organization holds 1 to ${max} seats.`);
  const org = await requireOrganization(deps.db, orgId);
  if ((await organizationStatus(deps.db, org)) !== "active" || org.subscriptionId === null) {
    throw new DomainError("conflict", `The term of ${orgId} has ended: renew it with the seats wanted.`, { errors: [{ field: "org_id", message: "the term has ended" }] });
  }
  const assigned = await seatsAssigned(deps.db, orgId);
  if (input.seats < assigned) {
    throw new DomainError("conflict", `${assigned} seats of ${orgId} are assigned: release some before asking for ${input.seats}.`, {
      errors: [{ field: "seats", message: `below the ${assigned} seats assigned` }],
      extensions: { seats_assigned: assigned },
    });
  }
  if (input.seats === org.seats) throw new DomainError("no_change", `${orgId} already has ${org.seats} seats.`, { errors: [{ field: "seats", message: "the current number of seats" }] });
  if (input.seats < org.seats) {
    throw new DomainError("conflict", `The term of ${orgId} is paid for ${org.seats} seats; fewer seats start with the next term (renew it with ${input.seats} seats).`, {
      errors: [{ field: "seats", message: "fewer seats take effect at renewal" }],
    });
  }

  const sub = await deps.stripe.subscriptions.retrieve(org.subscriptionId);
  const item = sub.items.data[0]!;
  const customer = idOf(sub.customer)!;
  const clockNow = sub.test_clock ? (await deps.stripe.testHelpers.testClocks.retrieve(idOf(sub.test_clock)!)).frozen_time : Math.floor(deps.clock.now() / 1000);
  const prorationDate = Math.min(Math.max(clockNow, item.current_period_start), item.current_period_end);
  const change = { items: [{ id: item.id, quantity: input.seats }], proration_behavior: "always_invoice" as const, proration_date: prorationDate };
  const preview = await deps.stripe.invoices.createPreview({ customer, subscription: sub.id, subscription_details: change });
  if (input.expectedAmountDueNow !== undefined && preview.amount_due !== input.expectedAmountDueNow) {
    throw new DomainError(
      "amount_changed",
      `The seats now cost ${preview.amount_due} ${preview.currency} (integer cents) for the rest of the term, not ${input.expectedAmountDueNow}; nothing was changed.`,
      {
        errors: [{ field: "expected_amount_due_now", message: `now ${preview.amount_due}` }],
        extensions: { amount_due_now: preview.amount_due, currency: preview.currency },
      },
    );
  }
  const key = `organization-seats:${orgId}:${org.version}:${input.seats}:${who.idempotencyKey ?? "none"}`;
  const updated = await deps.stripe.subscriptions.update(sub.id, change, { idempotencyKey: key });
  const invoiceId = idOf(updated.latest_invoice ?? null);
  if (invoiceId && invoiceId !== idOf(sub.latest_invoice ?? null)) {
    const inv = await deps.stripe.invoices.retrieve(invoiceId);
    const open = inv.status === "draft" ? await deps.stripe.invoices.finalizeInvoice(inv.id, {}, { idempotencyKey: `${key}:finalize` }) : inv;
    if (open.status === "open") await deps.stripe.invoices.sendInvoice(open.id, {}, { idempotencyKey: `${key}:send` });
  }
  const targets = emptyTargets();
  targets.subscriptions.add(sub.id);
  if (invoiceId) targets.invoices.add(invoiceId);
  await syncObjects(deps, { actor: who, cause: "organization.seats_added", at: prorationDate * 1000 }, targets, {
    statements: () => [
      deps.db
        .update(organizations)
        .set({ seats: input.seats, updatedAt: deps.clock.now(), version: sql`${organizations.version} + 1` })
        .where(eq(organizations.orgId, orgId)),
    ],
    entries: [
      {
        actor: who,
        action: "organization.seats_added",
        subject: { type: "organization", id: orgId },
        before: { seats: org.seats },
        after: { seats: input.seats, invoice: invoiceId, amount_due_now: preview.amount_due, proration_date: prorationDate },
      },
    ],
  });
  return organizationView(deps, orgId);
}
