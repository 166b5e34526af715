/**
 * An organization renews (POST /v1/organizations/{org_id}/renew): the next term starts where the
 * current one ends, with its own invoice. Nothing renews by itself (renewal stays "manual"); a
 * renewal is an act of the buyer, as a federal contract needs.
 *
 * How, in Stripe: the organization's subscription gets a schedule (`from_subscription`, which
 * keeps the current term as its first phase ending at the term's `cancel_at`), and a second
 * phase of the next term's price and seats for `term_months` months, with `end_behavior:
 * cancel`, so the next term ends by itself too. The same subscription runs on: the seats never
 * lapse between terms (access follows the subscription, entitlements/seats.ts), and MRR counts
 * it without a gap. At the phase change Stripe issues the next term's invoice on the
 * subscription's net terms (send_invoice, `days_until_due`), with the PO number of the renewal.
 *
 * Why not an invoice at the moment of renewal: Stripe invoices a subscription's period when it
 * starts. Billing the next term now would take a one-off invoice beside a subscription whose
 * first period is free (a 100 % discount or a trial), which either bills the term twice or
 * shows no MRR for a paid term. The renewal answers with Stripe's preview of that invoice
 * (amount, issue date, due date), which is what a payment office needs to obligate funds.
 *
 * The organization's row keeps the current term until the next one starts; reminders.ts moves
 * it on then (term, months, seats, PO number as the subscription has them).
 *
 * A failure part way is finished, not stranded: a schedule left without the next term's phase is
 * taken over by the next renewal request, and a schedule whose phases name this very request
 * (metadata `renewal`) has its remaining steps (PO number, seats, the audited D1 write, once)
 * done by its retry.
 */
import { eq, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, termPrice, type Catalog } from "../catalog";
import { canonicalJson, sha256Hex } from "../crypto";
import { organizations } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import { emptyTargets, idOf, type Stripe, syncObjects } from "../stripe-sync";
import { requirePriceId } from "../subscriptions";
import { organizationAudited } from "./audited";
import { customFields, type OrganizationDeps } from "./create";
import { poNumberOf } from "./reminders";
import { SEATS_NEXT_TERM, seatsNextTerm } from "./seats";
import { requireOrganization, seatsAssigned } from "./view";

export interface RenewInput {
  termMonths?: number | undefined;
  seats?: number | undefined;
  poNumber?: string | undefined;
}

export interface Renewal {
  orgId: string;
  /** The next term, Unix seconds. */
  start: number;
  end: number;
  months: number;
  seats: number;
  poNumber: string | null;
  /** Stripe's preview of the next term's invoice, issued when the term starts. */
  invoice: { amountDue: number; currency: string; issuedAt: number; dueDate: number | null };
  scheduleId: string;
}

/** The metadata key of the term months on the subscription: its phases set it as each term starts. */
export const TERM_MONTHS = "term_months";

/** The schedule's metadata key naming the renewal request (its digest) that set the next term's phase. */
const RENEWAL = "renewal";

export async function renewOrganization(deps: OrganizationDeps, who: Actor, orgId: string, input: RenewInput, from: Catalog = defaultCatalog): Promise<Renewal> {
  const policy = from.policy.organizations;
  const row = await requireOrganization(deps.db, orgId);
  const months = input.termMonths ?? row.termMonths;
  const term = termPrice(months, from);
  if (!term) throw invalidInput("term_months", `must be one of ${policy.terms.map((t) => t.months).join(", ")}`, `There is no ${months}-month term.`);
  if (row.subscriptionId === null) throw ended(orgId);
  const sub = await deps.stripe.subscriptions.retrieve(row.subscriptionId);
  if (sub.status === "canceled" || sub.status === "incomplete_expired") throw ended(orgId);
  const item = sub.items.data[0]!;
  // The term renewed is part of the request: the same body for the next term is another renewal,
  // whose Stripe steps must not reuse this one's idempotency keys (Stripe refuses other parameters).
  const digest = await sha256Hex(canonicalJson({ orgId, input, key: who.idempotencyKey ?? null, sub: sub.id, term: item.current_period_end }));
  const key = (step: string) => `organization-renew:${orgId}:${digest}:${step}`;
  const stripe = deps.stripe;
  const scheduleId = idOf(sub.schedule ?? null);
  const existing = scheduleId !== null ? await stripe.subscriptionSchedules.retrieve(scheduleId) : null;
  // A schedule with a phase after this term is a renewal made already. The same request again
  // (a retry after a failure past the phases) finishes what that run left undone and answers it;
  // any other is refused. A schedule without one is a renewal that stopped between making the
  // schedule and setting its phases (or the schedule of the term now running): this run sets them.
  const scheduled = existing?.phases.find((p) => p.start_date >= item.current_period_end) ?? null;
  if (existing && scheduled && existing.metadata?.[RENEWAL] !== digest) throw renewedAlready(orgId);

  let seats: number;
  if (scheduled) seats = scheduled.items[0]?.quantity ?? row.seats;
  else {
    seats = input.seats ?? seatsNextTerm(sub) ?? item.quantity ?? row.seats;
    if (seats < 1 || seats > policy.max_seats) throw invalidInput("seats", `must be 1 to ${policy.max_seats}`, `An organization buys 1 to ${policy.max_seats} seats.`);
    const assigned = await seatsAssigned(deps.db, orgId);
    if (seats < assigned)
      throw new DomainError("conflict", `${assigned} seats of ${orgId} are assigned; release ${assigned - seats} of them before renewing with ${seats}.`, {
        errors: [{ field: "seats", message: `is below the ${assigned} seats assigned` }],
        extensions: { seats_assigned: assigned },
      });
  }
  const poNumber = input.poNumber ?? row.poNumber ?? undefined;

  let sched: Stripe.SubscriptionSchedule;
  if (existing && scheduled) sched = existing;
  else {
    const priceId = await requirePriceId(deps, term.price.lookupKey);
    const made = existing ?? (await stripe.subscriptionSchedules.create({ from_subscription: sub.id }, { idempotencyKey: key("schedule") }));
    // The phase of the term running now; earlier phases (a term renewed before) are past and stay as they are.
    const current = made.phases.find((p) => p.start_date <= item.current_period_start && p.end_date >= item.current_period_end) ?? made.phases[made.phases.length - 1]!;
    sched = await stripe.subscriptionSchedules.update(
      made.id,
      {
        end_behavior: "cancel",
        // Names the request that set the phases, so its retry can tell its own renewal from another's.
        metadata: { [RENEWAL]: digest },
        phases: [
          {
            items: current.items.map((it) => ({ price: idOf(it.price)!, quantity: it.quantity ?? 1 })),
            start_date: current.start_date,
            end_date: current.end_date,
            automatic_tax: { enabled: sub.automatic_tax.enabled },
          },
          {
            items: [{ price: priceId, quantity: seats }],
            // Taxed as the term running now is (create.ts enables it; an organization whose subscription
            // has it off stays untaxed): the preview below and the invoice at the term's start agree.
            automatic_tax: { enabled: sub.automatic_tax.enabled },
            duration: { interval: "month", interval_count: months },
            proration_behavior: "none",
            metadata: { org_id: orgId, [TERM_MONTHS]: String(months) },
          },
        ],
      },
      { idempotencyKey: key("phases") },
    );
  }
  const next = sched.phases.find((p) => p.start_date >= item.current_period_end)!;
  // The renewal's PO number goes on the subscription's invoices only now that the phases are set:
  // from here on no seat change can make an invoice of the current term (seats.ts refuses one while
  // a renewal is scheduled), so the next term's invoice is the first to carry it.
  if ((poNumber ?? null) !== poNumberOf(sub.invoice_settings?.custom_fields ?? null)) {
    await stripe.subscriptions.update(sub.id, { invoice_settings: { custom_fields: customFields({ name: row.name, poNumber }) } }, { idempotencyKey: key("po") });
  }
  // The lower seat count waiting for the next term is what this renewal bought (or overrode); it
  // is cleared only now, so a renewal that fails before its phases are set keeps it.
  if (seatsNextTerm(sub) !== null) await stripe.subscriptions.update(sub.id, { metadata: { [SEATS_NEXT_TERM]: "" } }, { idempotencyKey: key("seats") });
  const preview = await stripe.invoices.createPreview({ subscription: sub.id });
  const daysUntilDue = sub.days_until_due ?? policy.days_until_due;

  // Audited once: a retry of a renewal whose audit row landed answers it and writes nothing.
  if (!(await organizationAudited(deps.db, orgId, "organization.renewed", { schedule: sched.id, start: next.start_date * 1000 }))) {
    const targets = emptyTargets();
    targets.subscriptions.add(sub.id);
    await syncObjects(deps, { actor: who, cause: "organization.renewed", at: deps.clock.now() }, targets, {
      statements: () => [
        deps.db
          .update(organizations)
          // From the row as it is at the write, not as read before Stripe's steps: a change since then keeps its version.
          .set({ updatedAt: deps.clock.now(), version: sql`${organizations.version} + 1` })
          .where(eq(organizations.orgId, orgId)),
      ],
      entries: [
        {
          actor: who,
          action: "organization.renewed",
          subject: { type: "organization", id: orgId },
          before: { term_end: row.termEnd, seats: item.quantity ?? row.seats, term_months: row.termMonths, po_number: row.poNumber },
          after: { schedule: sched.id, start: next.start_date * 1000, end: next.end_date * 1000, term_months: months, seats, po_number: poNumber ?? null, amount_due: preview.amount_due },
        },
      ],
    });
  }
  return {
    orgId,
    start: next.start_date,
    end: next.end_date,
    months,
    seats,
    poNumber: poNumber ?? null,
    invoice: { amountDue: preview.amount_due, currency: preview.currency, issuedAt: next.start_date, dueDate: next.start_date + daysUntilDue * 86_400 },
    scheduleId: sched.id,
  };
}

function renewedAlready(orgId: string): DomainError {
  return new DomainError("conflict", `${orgId} is renewed already: its next term is scheduled.`, { errors: [{ field: "org_id", message: "is renewed already" }] });
}

function ended(orgId: string): DomainError {
  return new DomainError("conflict", `The term of ${orgId} has ended; an ended term cannot be renewed.`, { errors: [{ field: "org_id", message: "the term has ended" }] });
}
