/**
 * An organization changes its seats (POST /v1/organizations/{org_id}/seats, `seats` the new
 * total).
 *
 * More seats start now: the subscription's quantity rises with `proration_behavior:
 * always_invoice`, so Stripe makes one invoice for the added seats over the rest of the term,
 * on the subscription's net terms (send_invoice, due in `days_until_due`) with its PO number,
 * and it is sent. The amount is Stripe's own preview (`invoices.createPreview`) at the same
 * proration moment, never computed here; a caller who confirmed an amount
 * (`expected_amount_due_now`) gets a 409 and nothing changes when the preview says otherwise.
 *
 * Fewer seats take effect at the term's end: a term is bought and invoiced whole, so nothing is
 * credited, and the term ends (`cancel_at`) without a next period a schedule phase could
 * change. The lower count is kept on the subscription (metadata `seats_next_term`) and is the
 * seats a renewal buys unless it names others (renew.ts). Seats below those assigned are
 * refused (409): release members first. While a renewal is scheduled (renew.ts) the seats are
 * the schedule's, and a change is refused (409 renewal_scheduled) until the next term runs.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { canonicalJson, sha256Hex } from "../crypto";
import { guard } from "../db/guard";
import { organizations } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import { emptyTargets, idOf, type Stripe, syncObjects } from "../stripe-sync";
import type { OrganizationDeps } from "./create";
import { orgNow } from "./org-clock";
import { invoiceOf, requireOrganization, seatsAssigned, type OrganizationInvoice, type OrganizationRow } from "./view";

/** The subscription metadata key of seats that take effect when the next term starts. */
export const SEATS_NEXT_TERM = "seats_next_term";

export interface SeatsInput {
  seats: number;
  expectedAmountDueNow?: number | undefined;
}

export interface SeatsChange {
  orgId: string;
  seats: number;
  /** Seats the next term starts with when fewer were asked for; null when unchanged. */
  seatsNextTerm: number | null;
  effective: "now" | "term_end";
  /** What the added seats cost for the rest of the term (Stripe's preview), 0 for fewer seats. */
  amountDueNow: number;
  currency: string;
  /** The prorated invoice of added seats, sent on net terms. */
  invoice: OrganizationInvoice | null;
}

/** The organization's active subscription and its one item (the seats). */
async function seatItem(deps: Pick<OrganizationDeps, "stripe">, row: OrganizationRow): Promise<{ sub: Stripe.Subscription; item: Stripe.SubscriptionItem }> {
  if (row.subscriptionId === null) throw ended(row.orgId);
  const sub = await deps.stripe.subscriptions.retrieve(row.subscriptionId);
  if (sub.status === "canceled" || sub.status === "incomplete_expired") throw ended(row.orgId);
  return { sub, item: sub.items.data[0]! };
}

function ended(orgId: string): DomainError {
  return new DomainError("conflict", `The term of ${orgId} has ended; renew it to buy seats for a new term.`, { errors: [{ field: "org_id", message: "the term has ended" }] });
}

/** The seats the next term starts with, as the subscription keeps them; null when none were set. */
export function seatsNextTerm(sub: Pick<Stripe.Subscription, "metadata">): number | null {
  const raw = sub.metadata?.[SEATS_NEXT_TERM];
  const n = raw === undefined || raw === "" ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** Whether the subscription's schedule has a phase (the renewal's term) still to start after this term. */
async function renewalAhead(stripe: Stripe, sub: Stripe.Subscription, item: Stripe.SubscriptionItem): Promise<boolean> {
  const scheduleId = idOf(sub.schedule ?? null);
  if (scheduleId === null) return false;
  const schedule = await stripe.subscriptionSchedules.retrieve(scheduleId);
  return schedule.phases.some((p) => p.start_date >= item.current_period_end);
}

/** Stripe's invoice for `seats` seats from `at` (Unix seconds) to the term's end: what adding them costs now. */
async function previewAdded(stripe: Stripe, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, seats: number, at: number): Promise<Stripe.Invoice> {
  return stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: { items: [{ id: item.id, quantity: seats }], proration_behavior: "always_invoice", proration_date: at },
  });
}

export async function changeSeats(deps: OrganizationDeps, who: Actor, orgId: string, input: SeatsInput, from: Catalog = defaultCatalog): Promise<SeatsChange> {
  const policy = from.policy.organizations;
  if (!Number.isInteger(input.seats) || input.seats < 1 || input.seats > policy.max_seats)
    throw invalidInput("seats", `must be 1 to ${policy.max_seats}`, `An organization holds 1 to ${policy.max_seats} seats.`);
  const row = await requireOrganization(deps.db, orgId);
  const { sub, item } = await seatItem(deps, row);
  const current = item.quantity ?? row.seats;
  // A scheduled renewal's phases fix the seats of this term and the next: a quantity change now
  // would hold for this term only, and a lower count for the next term would be ignored. Once the
  // next term runs (the schedule's last phase), its seats change as any term's do.
  if (await renewalAhead(deps.stripe, sub, item))
    throw new DomainError("renewal_scheduled", `The renewal of ${orgId} is scheduled: change its seats after the next term starts, or before renewing (the renewal's own seats).`, {
      errors: [{ field: "seats", message: "a renewal is scheduled" }],
    });
  const pending = seatsNextTerm(sub);
  if (input.seats === current && pending === null) {
    // Stripe holds these seats, but the row may not: a change whose D1 write failed after Stripe's
    // update left it stale, and assignSeat counts seats from the row. The retry mends it.
    if (row.seats !== current) await mendSeats(deps, who, row, sub);
    throw new DomainError("no_change", `${orgId} has ${current} seats already.`, { errors: [{ field: "seats", message: "is the current number" }] });
  }
  const digest = await sha256Hex(canonicalJson({ orgId, input, key: who.idempotencyKey ?? null, from: current }));
  const key = (step: string) => `organization-seats:${orgId}:${digest}:${step}`;

  if (input.seats < current) return fewerAtTermEnd(deps, who, row, sub, current, input.seats, key);

  const targets = emptyTargets();
  targets.subscriptions.add(sub.id);
  if (input.seats === current) {
    // Back to the seats of today: the lower count waiting for the next term is dropped.
    await deps.stripe.subscriptions.update(sub.id, { metadata: { [SEATS_NEXT_TERM]: "" } }, { idempotencyKey: key("keep") });
    await syncObjects(deps, { actor: who, cause: "organization.seats_kept", at: deps.clock.now() }, targets, {
      entries: [
        { actor: who, action: "organization.seats_kept", subject: { type: "organization", id: orgId }, before: { seats_next_term: pending }, after: { seats: current, seats_next_term: null } },
      ],
    });
    return { orgId, seats: current, seatsNextTerm: null, effective: "now", amountDueNow: 0, currency: item.price.currency, invoice: null };
  }

  // More seats now. The proration moment is the organization's now (its test clock's, in a test),
  // inside the term; the preview and the change use the same one, so they agree to the cent.
  const now = Math.floor((await orgNow(deps, row)) / 1000);
  const at = Math.min(Math.max(now, item.current_period_start), item.current_period_end);
  const preview = await previewAdded(deps.stripe, sub, item, input.seats, at);
  if (input.expectedAmountDueNow !== undefined && preview.amount_due !== input.expectedAmountDueNow) {
    throw new DomainError(
      "amount_changed",
      `${input.seats - current} more seats now cost ${preview.amount_due} ${preview.currency} (cents) for the rest of the term, not ${input.expectedAmountDueNow}; nothing was changed. Confirm the new amount to go ahead.`,
      { errors: [{ field: "expected_amount_due_now", message: `a fresh preview says ${preview.amount_due}` }], extensions: { amount_due_now: preview.amount_due, currency: preview.currency } },
    );
  }
  const updated = await deps.stripe.subscriptions.update(
    sub.id,
    {
      items: [{ id: item.id, quantity: input.seats }],
      proration_behavior: "always_invoice",
      proration_date: at,
      // More seats than the lower count set for the next term: that count no longer holds.
      ...(pending !== null ? { metadata: { [SEATS_NEXT_TERM]: "" } } : {}),
    },
    { idempotencyKey: key("add") },
  );
  const made = idOf(updated.latest_invoice ?? null);
  let invoice: Stripe.Invoice | null = null;
  if (made !== null && made !== idOf(sub.latest_invoice ?? null)) {
    const inv = await deps.stripe.invoices.retrieve(made);
    invoice = inv.status === "draft" ? await deps.stripe.invoices.finalizeInvoice(inv.id, {}, { idempotencyKey: key("finalize") }) : inv;
    // Sent to the billing email, as the term's first invoice was.
    if (invoice.status === "open") invoice = await deps.stripe.invoices.sendInvoice(invoice.id, {}, { idempotencyKey: key("send") });
    targets.invoices.add(invoice.id);
  }
  const invoiceId = invoice?.id ?? null;
  await syncObjects(deps, { actor: who, cause: "organization.seats_added", at: at * 1000 }, targets, {
    // Only over the row this change was computed from: another change written meanwhile (on its
    // own reading of Stripe) is not overwritten with this one's count; settleSeats below derives
    // the row from Stripe's count then. The audit entry is of Stripe's change, which happened.
    statements: () => [
      deps.db
        .update(organizations)
        .set({ seats: input.seats, updatedAt: deps.clock.now(), version: row.version + 1 })
        .where(and(eq(organizations.orgId, orgId), eq(organizations.version, row.version))),
    ],
    entries: [
      {
        actor: who,
        action: "organization.seats_added",
        subject: { type: "organization", id: orgId },
        before: { seats: current, seats_next_term: pending },
        after: { seats: input.seats, invoice: invoiceId, amount_due: preview.amount_due, currency: preview.currency, proration_date: at },
      },
    ],
  });
  const seats = await settleSeats(deps, who, orgId, sub.id);
  return { orgId, seats, seatsNextTerm: null, effective: "now", amountDueNow: preview.amount_due, currency: preview.currency, invoice: invoice ? invoiceOf(invoice) : null };
}

async function fewerAtTermEnd(deps: OrganizationDeps, who: Actor, row: OrganizationRow, sub: Stripe.Subscription, current: number, seats: number, key: (step: string) => string): Promise<SeatsChange> {
  const assigned = await seatsAssigned(deps.db, row.orgId);
  if (seats < assigned)
    throw new DomainError("conflict", `${assigned} seats of ${row.orgId} are assigned; release ${assigned - seats} of them before lowering the seats to ${seats}.`, {
      errors: [{ field: "seats", message: `is below the ${assigned} seats assigned` }],
      extensions: { seats_assigned: assigned },
    });
  await deps.stripe.subscriptions.update(sub.id, { metadata: { [SEATS_NEXT_TERM]: String(seats) } }, { idempotencyKey: key("fewer") });
  const targets = emptyTargets();
  targets.subscriptions.add(sub.id);
  await syncObjects(deps, { actor: who, cause: "organization.seats_reduced", at: deps.clock.now() }, targets, {
    entries: [
      {
        actor: who,
        action: "organization.seats_reduced",
        subject: { type: "organization", id: row.orgId },
        before: { seats: current, seats_next_term: seatsNextTerm(sub) },
        after: { seats: current, seats_next_term: seats, effective: "term_end" },
      },
    ],
  });
  return { orgId: row.orgId, seats: current, seatsNextTerm: seats, effective: "term_end", amountDueNow: 0, currency: sub.items.data[0]!.price.currency, invoice: null };
}

/** Writes Stripe's seat count to the row (and the subscription's mirror) when they differ. */
async function mendSeats(deps: OrganizationDeps, who: Actor, row: OrganizationRow, sub: Stripe.Subscription): Promise<void> {
  const targets = emptyTargets();
  targets.subscriptions.add(sub.id);
  const latest = idOf(sub.latest_invoice ?? null);
  if (latest !== null) targets.invoices.add(latest);
  await syncObjects(deps, { actor: who, cause: "organization.seats_mended", at: deps.clock.now() }, targets);
  await settleSeats(deps, who, row.orgId, sub.id);
}

/** The row's seats as read, for a guard: no other writer has written the row since. */
const rowVersionIs = (orgId: string, version: number) => sql`(select version from organizations where org_id = ${orgId}) = ${version}`;

/**
 * Makes the row's seats Stripe's count (audited as `organization.seats_mended` when they
 * differed) and returns it. Both are read in each attempt and the write is guarded on the row as
 * read, so of two changes racing on separate isolates the row ends with Stripe's last count, not
 * with whichever D1 write landed last.
 */
async function settleSeats(deps: OrganizationDeps, who: Actor, orgId: string, subscriptionId: string): Promise<number> {
  return deps.audit.commit(async () => {
    const row = await requireOrganization(deps.db, orgId);
    const live = await deps.stripe.subscriptions.retrieve(subscriptionId);
    const seats = live.items.data[0]?.quantity ?? row.seats;
    if (row.seats === seats) return { statements: [], entries: [], result: seats };
    return {
      statements: [
        guard(deps.db, rowVersionIs(orgId, row.version)),
        deps.db
          .update(organizations)
          .set({ seats, updatedAt: deps.clock.now(), version: row.version + 1 })
          .where(eq(organizations.orgId, orgId)),
      ],
      entries: [{ actor: who, action: "organization.seats_mended", subject: { type: "organization", id: orgId }, before: { seats: row.seats }, after: { seats } }],
      result: seats,
    };
  });
}
