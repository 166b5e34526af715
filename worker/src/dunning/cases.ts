/**
 * Opening and closing dunning cases, as statements for the webhook sync's own batch
 * (stripe-sync/sync.ts): the failure, the invoice and the case land together or not at all.
 * - A failed payment of an open subscription invoice opens its case (INSERT … ON CONFLICT
 *   (invoice_id) DO NOTHING), anchored at the invoice's first failure; a hard decline enqueues
 *   the "use another card" email at once (key `<case>:hard_decline`).
 * - The invoice paid closes the case as `recovered` and enqueues `payment_recovered`; voided or
 *   uncollectible closes it as `canceled`; a subscription that ended closes its cases as
 *   `canceled`, so the tick sends nothing more.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { planName } from "../catalog";
import type { Db } from "../db/client";
import { customers, dunningCases, paymentAttempts, subscriptions } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email";
import { outboxStatements } from "../outbox";
import type { Services } from "../services";
import { isHardDecline, nextStage, retryAt, stageAt, type DunningPolicy } from "./policy";

/** One case per invoice: its id is derived from the invoice, so every writer agrees on it. */
export const caseIdOf = (invoiceId: string) => `dun_${invoiceId}`;

export interface FailedPayment {
  invoiceId: string;
  customerId: string;
  /** Stripe's time of the failure (ms). */
  at: number;
  amount: number;
  currency: string;
  declineCode: string | null;
}

/** The invoice as it stands after the batch (fetched from Stripe, or the mirror's row). */
export interface InvoiceFacts {
  id: string;
  subscriptionId: string | null;
  customerId: string;
  userId: string | null;
  status: string;
  amountPaid: number;
  currency: string;
  /** The test clock of the invoice's customer, when known (test mode). */
  testClock: string | null;
  /** Stripe's own next automatic attempt (`next_payment_attempt`, ms), when it has one. */
  nextPaymentAttempt: number | null;
}

type Deps = Pick<Services, "db" | "clock" | "appBaseUrl" | "dunning">;

async function contacts(db: Db, customerIds: string[]): Promise<Map<string, { email: string | null; name: string | null }>> {
  if (customerIds.length === 0) return new Map();
  const rows = await db.select({ id: customers.id, email: customers.email, name: customers.name }).from(customers).where(inArray(customers.id, customerIds)).all();
  return new Map(rows.map((r) => [r.id, { email: r.email, name: r.name }]));
}

export async function tiers(db: Db, subscriptionIds: string[]): Promise<Map<string, string | null>> {
  if (subscriptionIds.length === 0) return new Map();
  const rows = await db.select({ id: subscriptions.id, tier: subscriptions.tier }).from(subscriptions).where(inArray(subscriptions.id, subscriptionIds)).all();
  return new Map(rows.map((r) => [r.id, r.tier]));
}

/**
 * The statements that open the cases of these failures (and enqueue hard-decline emails).
 * `contactOf` may name customers fetched in this sync (newer than the mirror's rows).
 */
export async function openCaseStatements(
  s: Deps,
  failures: FailedPayment[],
  invoiceOf: (id: string) => InvoiceFacts | undefined,
  known: { contact?: Map<string, { email: string | null; name: string | null }>; tier?: Map<string, string | null> } = {},
  policy: DunningPolicy = s.dunning,
): Promise<BatchItem<"sqlite">[]> {
  const opening = failures.filter((f) => {
    const inv = invoiceOf(f.invoiceId);
    return inv !== undefined && inv.subscriptionId !== null && inv.status === "open";
  });
  if (opening.length === 0) return [];
  const ids = [...new Set(opening.map((f) => f.invoiceId))];
  // Anchored at the invoice's first failure, even when a later one is reported first.
  const stored = await s.db
    .select({ invoiceId: paymentAttempts.invoiceId, at: sql<number>`min(${paymentAttempts.at})` })
    .from(paymentAttempts)
    .where(and(inArray(paymentAttempts.invoiceId, ids), eq(paymentAttempts.outcome, "failed")))
    .groupBy(paymentAttempts.invoiceId)
    .all();
  const firstFailure = new Map(stored.map((r) => [r.invoiceId, r.at]));
  for (const f of opening) firstFailure.set(f.invoiceId, Math.min(firstFailure.get(f.invoiceId) ?? Number.POSITIVE_INFINITY, f.at));
  const hard = opening.filter((f) => isHardDecline(f.declineCode, policy));
  const contact = new Map([
    ...(await contacts(
      s.db,
      hard.map((f) => f.customerId).filter((c) => !known.contact?.has(c)),
    )),
    ...(known.contact ?? []),
  ]);
  const tier = new Map([
    ...(await tiers(
      s.db,
      hard.map((f) => invoiceOf(f.invoiceId)!.subscriptionId!).filter((id) => !known.tier?.has(id)),
    )),
    ...(known.tier ?? []),
  ]);
  const now = s.clock.now();
  const first = nextStage(null, policy)!;
  const suspension = policy.stages.find((st) => st.stage === "suspended") ?? policy.stages.at(-1)!;
  const out: BatchItem<"sqlite">[] = [];
  // Oldest first: a later failure in the same batch updates the case after an earlier one opened it.
  for (const f of [...opening].sort((a, b) => a.at - b.at)) {
    const inv = invoiceOf(f.invoiceId)!;
    const anchorAt = firstFailure.get(f.invoiceId)!;
    const id = caseIdOf(f.invoiceId);
    // The worker's first retry; none after a decline a retry cannot fix, or when Stripe retries.
    const nextRetryAt = policy.retries.by === "worker" && !isHardDecline(f.declineCode, policy) ? retryAt(anchorAt, 0, anchorAt, f.declineCode, policy) : null;
    const firstStageAt = stageAt(anchorAt, first.day);
    out.push(
      s.db
        .insert(dunningCases)
        .values({
          id,
          invoiceId: f.invoiceId,
          subscriptionId: inv.subscriptionId!,
          customerId: f.customerId,
          userId: inv.userId,
          testClock: inv.testClock,
          anchorAt,
          status: "open",
          stage: null,
          nextActionAt: nextRetryAt === null ? firstStageAt : Math.min(firstStageAt, nextRetryAt),
          amount: f.amount,
          currency: f.currency,
          declineCode: f.declineCode,
          lastDeclineCode: f.declineCode,
          retries: 0,
          nextRetryAt,
          stripeNextAttemptAt: inv.nextPaymentAttempt,
          openedAt: now,
          closedAt: null,
        })
        // A later failure of the same invoice (a retry by Stripe, the portal, the worker): the
        // case keeps its anchor and stage and learns the latest decline and Stripe's next
        // attempt, unless a newer failure is already recorded (events arrive out of order).
        .onConflictDoUpdate({
          target: dunningCases.invoiceId,
          set: { lastDeclineCode: sql`excluded.last_decline_code`, stripeNextAttemptAt: sql`excluded.stripe_next_attempt_at` },
          setWhere: sql`(select max(${paymentAttempts.at}) from ${paymentAttempts} where ${paymentAttempts.invoiceId} = ${f.invoiceId} and ${paymentAttempts.outcome} = 'failed') <= ${f.at}`,
        }),
    );
    const to = contact.get(f.customerId)?.email;
    // An address the outbox would refuse skips the email, never the case (nor the sync's batch).
    if (isHardDecline(f.declineCode, policy) && to && isEmailAddress(to)) {
      out.push(
        enqueueEmail(s, {
          key: `${id}:hard_decline`,
          to,
          userId: inv.userId,
          email: {
            template: "hard_decline",
            name: contact.get(f.customerId)?.name ?? null,
            plan: planName(tier.get(inv.subscriptionId!)),
            amountDue: { amount: f.amount, currency: f.currency },
            hasPaymentMethod: true,
            suspendAt: stageAt(anchorAt, suspension.day),
          },
        }),
      );
    }
  }
  return out;
}

/**
 * The statements that close the cases of invoices that were paid (recovered, with the recovery
 * email) or voided/marked uncollectible (canceled), and of subscriptions that ended (canceled).
 * `at` is Stripe's time of the change.
 */
export async function closeCaseStatements(
  s: Deps,
  settled: InvoiceFacts[],
  endedSubscriptions: string[],
  at: number,
  known: { contact?: Map<string, { email: string | null; name: string | null }>; tier?: Map<string, string | null> } = {},
): Promise<BatchItem<"sqlite">[]> {
  const out: BatchItem<"sqlite">[] = [];
  const closing = settled.filter((i) => i.status === "paid" || i.status === "void" || i.status === "uncollectible");
  if (closing.length > 0) {
    const cases = await s.db
      .select()
      .from(dunningCases)
      .where(
        and(
          inArray(
            dunningCases.invoiceId,
            closing.map((i) => i.id),
          ),
          inArray(dunningCases.status, ["open", "suspended"]),
        ),
      )
      .all();
    const contact = new Map([
      ...(await contacts(
        s.db,
        cases.map((c) => c.customerId).filter((c) => !known.contact?.has(c)),
      )),
      ...(known.contact ?? []),
    ]);
    const tier = new Map([
      ...(await tiers(
        s.db,
        cases.map((c) => c.subscriptionId).filter((id) => !known.tier?.has(id)),
      )),
      ...(known.tier ?? []),
    ]);
    for (const c of cases) {
      const inv = closing.find((i) => i.id === c.invoiceId)!;
      const recovered = inv.status === "paid";
      out.push(
        s.db
          .update(dunningCases)
          .set({ status: recovered ? "recovered" : "canceled", nextActionAt: null, closedAt: at })
          .where(and(eq(dunningCases.id, c.id), inArray(dunningCases.status, ["open", "suspended"]))),
      );
      if (recovered && c.userId)
        out.push(...outboxStatements(s.db, { type: "dunning.recovered", userId: c.userId, occurredAt: at, data: { user_id: c.userId, invoice_id: c.invoiceId } }, s.clock.now()));
      const to = contact.get(c.customerId)?.email;
      if (recovered && to && isEmailAddress(to)) {
        out.push(
          enqueueEmail(s, {
            key: `${c.id}:payment_recovered`,
            to,
            userId: c.userId,
            email: {
              template: "payment_recovered",
              name: contact.get(c.customerId)?.name ?? null,
              plan: planName(tier.get(c.subscriptionId)),
              amountPaid: { amount: inv.amountPaid || c.amount, currency: inv.currency },
            },
          }),
        );
      }
    }
  }
  if (endedSubscriptions.length > 0) {
    out.push(
      s.db
        .update(dunningCases)
        .set({ status: "canceled", nextActionAt: null, closedAt: at })
        .where(and(inArray(dunningCases.subscriptionId, endedSubscriptions), inArray(dunningCases.status, ["open", "suspended"]))),
    );
  }
  return out;
}
