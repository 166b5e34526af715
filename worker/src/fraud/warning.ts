/**
 * Radar early fraud warnings: the mirror of each warning, and the policy for an actionable one,
 * run as the sync's event action (services.ts EventAction) for `radar.early_fraud_warning.*`.
 *
 * Once only: `actioned_at` on the warning's row is set in the event's batch, with the processed
 * mark, guarded so a second writer's batch fails rather than act twice. Every Stripe write has
 * an idempotency key made of the warning's id, so a retry after a crash between the refund and
 * the cancellation makes neither again, and finishes what was left. Stripe turns the warning
 * not actionable once the charge is refunded in full, so what decides is "actionable, or
 * already refunded by us for this warning" (the credit note's or refund's metadata names it).
 */
import { eq, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AuditEntry } from "../audit";
import { guard } from "../db/guard";
import { customers, earlyFraudWarnings, subscriptions } from "../db/schema";
import { suppressEmailStatements } from "../email";
import type { EventActionResult, Services } from "../services";
import { idOf, invoiceOfCharge, invoiceSubscriptionId, type Stripe } from "../stripe-sync";
import { fraudWarningPolicy, type FraudWarningPolicy } from "./policy";

export const FRAUD_WARNING_EVENTS: ReadonlySet<string> = new Set(["radar.early_fraud_warning.created", "radar.early_fraud_warning.updated"]);

/** Subscription states in which the customer can still be charged: cancelling those ends it. */
const LIVE = new Set<Stripe.Subscription.Status>(["active", "trialing", "past_due", "unpaid", "paused", "incomplete"]);

type Deps = Pick<Services, "db" | "stripe" | "clock" | "log">;
type WarningRow = typeof earlyFraudWarnings.$inferSelect;

const NOTHING: EventActionResult = { subscriptions: [], entries: [] };

/** The metadata key that ties a refund or credit note to the warning it answered. */
export const WARNING_METADATA_KEY = "early_fraud_warning";

interface Context {
  warning: Stripe.Radar.EarlyFraudWarning;
  charge: Stripe.Charge;
  inv: Stripe.Invoice | null;
  subscriptionId: string | null;
  customerId: string | null;
  userId: string | null;
  address: string | null;
}

/** Who the warned charge belongs to: the mirror's subscription, else the invoice's metadata, else the customer's. */
async function contextOf(deps: Deps, warning: Stripe.Radar.EarlyFraudWarning): Promise<Context> {
  const charge = await deps.stripe.charges.retrieve(idOf(warning.charge)!);
  const invoiceId = await invoiceOfCharge(deps.stripe, charge);
  const inv = invoiceId ? await deps.stripe.invoices.retrieve(invoiceId) : null;
  const subscriptionId = inv ? invoiceSubscriptionId(inv) : null;
  const customerId = idOf(charge.customer);
  const sub = subscriptionId ? await deps.db.select({ userId: subscriptions.userId }).from(subscriptions).where(eq(subscriptions.id, subscriptionId)).get() : undefined;
  const cust = customerId ? await deps.db.select({ userId: customers.userId, email: customers.email }).from(customers).where(eq(customers.id, customerId)).get() : undefined;
  const userId = sub?.userId ?? inv?.parent?.subscription_details?.metadata?.user_id ?? cust?.userId ?? null;
  return { warning, charge, inv, subscriptionId, customerId, userId, address: cust?.email ?? null };
}

function rowOf(c: Context, now: number, actionedAt: number | null): WarningRow {
  return {
    id: c.warning.id,
    chargeId: c.charge.id,
    invoiceId: c.inv?.id ?? null,
    subscriptionId: c.subscriptionId,
    customerId: c.customerId,
    userId: c.userId,
    fraudType: c.warning.fraud_type,
    actionable: c.warning.actionable,
    amount: c.charge.amount,
    currency: c.charge.currency,
    createdAt: c.warning.created * 1000,
    actionedAt,
    syncedAt: now,
  };
}

/** Upserts the mirror row; `actioned_at` is never cleared, and a later fetch's row is not overwritten by an earlier one. */
function upsert(deps: Pick<Services, "db">, row: WarningRow): BatchItem<"sqlite"> {
  const { id: _id, actionedAt, ...rest } = row;
  return deps.db
    .insert(earlyFraudWarnings)
    .values(row)
    .onConflictDoUpdate({
      target: earlyFraudWarnings.id,
      set: { ...rest, actionedAt: sql`coalesce(${earlyFraudWarnings.actionedAt}, ${actionedAt})` },
      setWhere: lte(earlyFraudWarnings.syncedAt, sql`excluded.synced_at`),
    });
}

/** The refund this warning already caused, if any: a credit note of the invoice or a refund of the charge naming it. */
async function ourRefund(deps: Deps, c: Context): Promise<{ creditNote: string | null; refund: string | null } | null> {
  if (c.inv) {
    const notes = (await deps.stripe.creditNotes.list({ invoice: c.inv.id, limit: 100 })).data;
    const note = notes.find((n) => n.metadata?.[WARNING_METADATA_KEY] === c.warning.id && n.status !== "void");
    if (note) return { creditNote: note.id, refund: idOf(note.refunds[0]?.refund ?? null) };
  }
  const refunds = (await deps.stripe.refunds.list({ charge: c.charge.id, limit: 100 })).data;
  const refund = refunds.find((r) => r.metadata?.[WARNING_METADATA_KEY] === c.warning.id);
  return refund ? { creditNote: null, refund: refund.id } : null;
}

/**
 * Refunds what is left of the charge: a credit note with a refund on its paid invoice (so the
 * invoice, the refund and the books agree, as POST /v1/refunds makes them), else a plain refund
 * of the charge. The credit note says `end_access: "true"`, so the refund policy that its own
 * events run decides as this one did. Returns the amount refunded now (0: nothing was left).
 */
async function refundCharge(deps: Deps, c: Context): Promise<{ amount: number; creditNote: string | null; refund: string | null }> {
  const left = c.charge.amount_captured - c.charge.amount_refunded;
  const metadata = { [WARNING_METADATA_KEY]: c.warning.id, refund_reason: "fraudulent", end_access: "true" };
  const key = `efw:${c.warning.id}:refund`;
  if (c.inv && c.inv.status === "paid") {
    const creditable = Math.min(left, c.inv.amount_paid - c.inv.post_payment_credit_notes_amount);
    if (creditable > 0) {
      const note = await deps.stripe.creditNotes.create({ invoice: c.inv.id, amount: creditable, refund_amount: creditable, reason: "fraudulent", metadata }, { idempotencyKey: key });
      return { amount: creditable, creditNote: note.id, refund: idOf(note.refunds[0]?.refund ?? null) };
    }
  }
  if (left <= 0) return { amount: 0, creditNote: null, refund: null };
  // A charge outside an invoice, or one whose invoice is already credited (to the balance) in full.
  const refund = await deps.stripe.refunds.create({ charge: c.charge.id, amount: left, reason: "fraudulent", metadata }, { idempotencyKey: key });
  return { amount: left, creditNote: null, refund: refund.id };
}

/** Cancels the charge's subscription at once when it is still live; returns its status before. */
async function cancelSubscription(deps: Deps, c: Context): Promise<Stripe.Subscription.Status | null> {
  if (!c.subscriptionId) return null;
  const sub = await deps.stripe.subscriptions.retrieve(c.subscriptionId);
  if (!LIVE.has(sub.status)) return sub.status;
  await deps.stripe.subscriptions.cancel(
    sub.id,
    { prorate: false, invoice_now: false, cancellation_details: { comment: `early fraud warning ${c.warning.id} on charge ${c.charge.id}: refunded and cancelled` } },
    { idempotencyKey: `efw:${c.warning.id}:cancel` },
  );
  return sub.status;
}

/**
 * The sync's event action for `radar.early_fraud_warning.*`: mirrors the warning as Stripe has it
 * now and, for an actionable one not yet acted on, carries out the policy. Returns the
 * subscription and charge to mirror in the event's batch, the audit entry, and the rows.
 */
export async function fraudWarningEventAction(deps: Deps, event: Stripe.Event, policy: FraudWarningPolicy = fraudWarningPolicy): Promise<EventActionResult> {
  if (!FRAUD_WARNING_EVENTS.has(event.type)) return NOTHING;
  const id = (event.data.object as { id?: unknown }).id;
  if (typeof id !== "string") return NOTHING;
  const warning = await deps.stripe.radar.earlyFraudWarnings.retrieve(id);
  const c = await contextOf(deps, warning);
  const stored = await deps.db.select({ actionedAt: earlyFraudWarnings.actionedAt }).from(earlyFraudWarnings).where(eq(earlyFraudWarnings.id, id)).get();
  const now = deps.clock.now();
  if (stored?.actionedAt != null) return { ...NOTHING, statements: [upsert(deps, rowOf(c, now, null))] };
  const earlier = await ourRefund(deps, c);
  if (!warning.actionable && !earlier) return { ...NOTHING, statements: [upsert(deps, rowOf(c, now, null))] };

  const p = policy.actionable;
  const refunded = p.refund === "full" && !earlier ? await refundCharge(deps, c) : { amount: 0, ...(earlier ?? { creditNote: null, refund: null }) };
  const before = p.cancel === "now" ? await cancelSubscription(deps, c) : null;
  const canceled = before !== null && LIVE.has(before) ? c.subscriptionId : null;
  const suppress = c.userId ? suppressEmailStatements(deps, { userId: c.userId, address: c.address, categories: p.suppressEmail, reason: `early_fraud_warning ${warning.id}` }) : [];
  const entry: AuditEntry = {
    actor: { type: "stripe", id: event.id },
    action: "fraud_warning.actioned",
    subject: c.userId ? { type: "user", id: c.userId } : { type: "charge", id: c.charge.id },
    before: { warning: warning.id, actionable: warning.actionable, subscription: c.subscriptionId, status: before },
    after: {
      warning: warning.id,
      fraud_type: warning.fraud_type,
      charge: c.charge.id,
      invoice: c.inv?.id ?? null,
      refunded: refunded.amount,
      currency: c.charge.currency,
      credit_note: refunded.creditNote,
      refund: refunded.refund,
      subscription: c.subscriptionId,
      canceled: canceled !== null,
      email_suppressed: c.userId ? p.suppressEmail : [],
    },
  };
  return {
    subscriptions: c.subscriptionId ? [c.subscriptionId] : [],
    charges: [c.charge.id],
    entries: [entry],
    statements: [
      // Another writer acted on this warning since it was read: this batch fails and the event is retried (and then finds it done).
      guard(deps.db, sql`(select actioned_at from early_fraud_warnings where id = ${id}) is null`),
      upsert(deps, rowOf(c, now, now)),
      ...suppress,
    ],
  };
}
