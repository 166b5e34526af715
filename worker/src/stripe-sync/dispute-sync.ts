/**
 * The disputes part of a sync: each dispute is fetched from Stripe with the charge it disputes
 * and the invoice that charge paid, and written with the invoice's subscription and user. The
 * dispute policy's decision travels on the dispute (`metadata.access_policy`, written by the
 * disputes/ event action); the batch that first mirrors a decision audits it, once: the row is
 * guarded as read, so a concurrent sync of the same dispute rereads and finds it decided (a
 * resync that rebuilds a wiped row mirrors the decision without auditing it again).
 */
import { and, eq, inArray, lt, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor, AuditEntry } from "../audit";
import type { Db } from "../db/client";
import { guard, rowAsRead } from "../db/guard";
import { CLOSED_DISPUTE_STATUSES, customers, disputes, invoices } from "../db/schema";
import type { Services } from "../services";
import type { Stripe } from "./stripe";
import type { Fetched } from "./batch";
import { disputedCharge, disputeRow, idOf, invoiceSubscriptionId, sameRow, type DisputeRow } from "./mirror";

export type FetchedDispute = Fetched["disputes"] extends Map<string, infer V> ? V : never;

/** Fetches the disputes; the invoices their charges paid join `invoices`, to be fetched with them. */
export async function fetchDisputes(ctx: Pick<Services, "stripe" | "clock">, ids: Set<string>, invoiceTargets: Set<string>): Promise<Fetched["disputes"]> {
  const out: Fetched["disputes"] = new Map();
  for (const id of ids) {
    const syncedAt = ctx.clock.now();
    const dispute = await ctx.stripe.disputes.retrieve(id);
    const { charge, invoiceId } = await disputedCharge(ctx.stripe, dispute);
    if (invoiceId) invoiceTargets.add(invoiceId);
    out.set(id, { dispute, chargeId: charge.id, customerId: idOf(charge.customer), invoiceId, syncedAt });
  }
  return out;
}

const summary = (r: DisputeRow) => ({
  amount: r.amount,
  currency: r.currency,
  reason: r.reason,
  status: r.status,
  fee: r.fee,
  charge: r.chargeId,
  invoice: r.invoiceId,
  evidence_submitted: r.evidenceSubmitted,
  policy_action: r.policyAction,
});

/** The audit action of each decision: what a reader of the log looks for. */
const DECISION_ACTION = { end_access: "dispute.access_ended", flag_account: "dispute.account_flagged" } as const;

export async function writeDisputes(
  db: Db,
  why: { actor: Actor; at: number; cause: string; eventType?: string },
  fetched: Fetched,
  userByCustomer: Map<string, string | null>,
  nowOn: (clock: string | null) => Promise<number>,
): Promise<{ guards: BatchItem<"sqlite">[]; statements: BatchItem<"sqlite">[]; entries: AuditEntry[] }> {
  const out = { guards: [] as BatchItem<"sqlite">[], statements: [] as BatchItem<"sqlite">[], entries: [] as AuditEntry[] };
  if (fetched.disputes.size === 0) return out;
  const ids = [...fetched.disputes.keys()];
  const current = new Map((await db.select().from(disputes).where(inArray(disputes.id, ids)).all()).map((r) => [r.id, r]));
  // The invoice and customer rows that name a user when this sync did not fetch them.
  const invoiceIds = [...fetched.disputes.values()].map((d) => d.invoiceId).filter((id): id is string => id !== null);
  const storedInvoices = new Map(
    invoiceIds.length
      ? (await db.select({ id: invoices.id, userId: invoices.userId, subscriptionId: invoices.subscriptionId }).from(invoices).where(inArray(invoices.id, invoiceIds)).all()).map((r) => [r.id, r])
      : [],
  );
  const customerIds = [...fetched.disputes.values()].map((d) => d.customerId).filter((id): id is string => id !== null);
  const storedCustomers = new Map(
    customerIds.length
      ? (await db.select({ id: customers.id, userId: customers.userId, testClock: customers.testClock }).from(customers).where(inArray(customers.id, customerIds)).all()).map((r) => [r.id, r])
      : [],
  );
  const clockOf = (customerId: string | null): string | null => {
    if (!customerId) return null;
    const c = fetched.customers.get(customerId);
    return c && !("deleted" in c && c.deleted) ? idOf((c as Stripe.Customer).test_clock ?? null) : (storedCustomers.get(customerId)?.testClock ?? null);
  };
  for (const { dispute, chargeId, customerId, invoiceId, syncedAt } of fetched.disputes.values()) {
    const before = current.get(dispute.id);
    out.guards.push(guard(db, rowAsRead("disputes", dispute.id, before?.syncedAt)));
    if (before && before.syncedAt > syncedAt) continue;
    const inv = invoiceId ? fetched.invoices.get(invoiceId)?.inv : undefined;
    const stored = invoiceId ? storedInvoices.get(invoiceId) : undefined;
    const userId =
      (customerId ? (userByCustomer.get(customerId) ?? storedCustomers.get(customerId)?.userId) : null) ??
      stored?.userId ??
      inv?.parent?.subscription_details?.metadata?.user_id ??
      before?.userId ??
      null;
    const subscriptionId = (inv ? invoiceSubscriptionId(inv) : null) ?? stored?.subscriptionId ?? before?.subscriptionId ?? null;
    // Stripe dates the close on its `charge.dispute.closed` event (a test clock's time on a test
    // clock): that event sets it, over a provisional value. Any other sync that finds the dispute
    // closed first (a late created event, a resync) dates it by the customer's clock, until then.
    const closed = CLOSED_DISPUTE_STATUSES.has(dispute.status);
    const closedAt = !closed ? null : why.eventType === "charge.dispute.closed" ? why.at : (before?.closedAt ?? (await nowOn(clockOf(customerId))));
    const row = disputeRow(dispute, { chargeId, invoiceId, subscriptionId, customerId, userId, closedAt }, syncedAt);
    if (sameRow(before, row)) {
      out.statements.push(
        db
          .update(disputes)
          .set({ syncedAt })
          .where(and(eq(disputes.id, dispute.id), lt(disputes.syncedAt, syncedAt))),
      );
      continue;
    }
    out.statements.push(
      db
        .insert(disputes)
        .values(row)
        .onConflictDoUpdate({ target: disputes.id, set: row, setWhere: lte(disputes.syncedAt, sql`excluded.synced_at`) }),
    );
    const actor = { type: why.actor.type, id: why.actor.id };
    out.entries.push({
      actor,
      action: before ? "dispute.updated" : "dispute.created",
      subject: { type: "dispute", id: dispute.id },
      before: before ? summary(before) : undefined,
      after: summary(row),
    });
    // A resync rebuilding a wiped row found a decision made long ago, not one made now.
    if (row.policyAction !== null && before?.policyAction == null && why.cause !== "resync") {
      out.entries.push({
        actor,
        action: DECISION_ACTION[row.policyAction],
        subject: userId ? { type: "user", id: userId } : { type: "dispute", id: dispute.id },
        after: {
          dispute: dispute.id,
          charge: chargeId,
          invoice: invoiceId,
          subscription: subscriptionId,
          reason: dispute.reason,
          amount: dispute.amount,
          currency: dispute.currency,
          action: row.policyAction,
          rule: dispute.metadata?.policy_rule ?? null,
        },
      });
    }
  }
  return out;
}
