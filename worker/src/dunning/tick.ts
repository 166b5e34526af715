/**
 * The dunning tick (the `*\/15` cron): retries open cases' invoices (policy `retries.by = worker`),
 * moves them through the policy's stages, and cancels a suspended case's subscription when the
 * policy says so.
 *
 * Selection follows due work, not table size: open cases whose next action is due, through the
 * (status, test_clock, next_action_at) index, at most `policy.tickBatch` per selection; the rest
 * continue on the next tick. "Now" is wall time, except for a customer on a Stripe test clock,
 * where it is that clock's frozen time (fetched once per clock per tick), so advancing a test
 * clock and running the cron walks the whole sequence.
 *
 * Each stage of a case is written in one batch: its `dunning_steps` row (UNIQUE(case_id, step)),
 * its email (outbox key `<case>:<stage>`, unique) and the case's move to the next action,
 * behind a guard that the case is still open with the next action time this tick read. Two
 * overlapping ticks: one batch commits, the other's guard fails and it finds nothing left to do
 * (and were the guard to pass twice, the unique keys would still store one step and one email).
 *
 * A retry is a call to Stripe before its batch: `invoices.pay` with the idempotency key
 * `dunning:<case>:after_<n>` (n: the retries the case had recorded when the tick read it), so two
 * ticks racing on the same case, or a tick that crashed before its batch and runs again, make one
 * attempt and read the same answer, even when their clocks straddle a retry day and they see
 * different slots due; the batch then records it behind the same kind of guard (the case's
 * retry count as read).
 */
import { and, eq, inArray, isNotNull, isNull, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AuditEntry } from "../audit";
import { guard, isStaleRead } from "../db/guard";
import { customers, dunningCases, dunningSteps } from "../db/schema";
import { enqueueEmail, isEmailAddress, type EmailInput } from "../email";
import { outboxStatements } from "../outbox";
import { describeError } from "../log";
import { suspensionOf } from "../entitlements";
import { Stripe, emptyTargets, syncObjects } from "../stripe-sync";
import { clockReader, clockTimes } from "../test-clocks";
import type { Services } from "../services";
import { planName } from "../catalog";
import { tiers } from "./cases";
import { firstSlotAfter, isHardDecline, nextStage, retryAt, stageAt, type DunningPolicy, type DunningStage } from "./policy";

export type TickDeps = Pick<Services, "db" | "clock" | "stripe" | "audit" | "appBaseUrl" | "log" | "dunning" | "syncFollowers">;
const DAY = 86_400_000;
type Case = typeof dunningCases.$inferSelect;

export interface TickResult {
  /** Stages that happened (their email enqueued, suspension applied), as `<case>:<stage>`. */
  done: string[];
  /** Retries made, as `<case>:retry_<n>:<paid|declined>`. */
  retried: string[];
  /** Stages passed over because a later one was already due. */
  skipped: string[];
  /** Cases another tick moved first. */
  lost: number;
  /** Cases whose step failed (logged); they are due again on the next tick, the others go on. */
  failed: number;
}

interface Contact {
  email: string | null;
  name: string | null;
  hasPaymentMethod: boolean;
}

export async function dunningTick(s: TickDeps, policy: DunningPolicy = s.dunning): Promise<TickResult> {
  const result: TickResult = { done: [], retried: [], skipped: [], lost: 0, failed: 0 };
  const contacts = new Map<string, Promise<Contact>>();
  const wallNow = s.clock.now();
  const due = (clock: string | null, now: number) =>
    s.db
      .select()
      .from(dunningCases)
      .where(and(inArray(dunningCases.status, ["open", "suspended"]), clock === null ? isNull(dunningCases.testClock) : eq(dunningCases.testClock, clock), lte(dunningCases.nextActionAt, now)))
      .orderBy(dunningCases.nextActionAt)
      .limit(policy.tickBatch)
      .all();
  const run = async (cases: Case[], now: number) => {
    // One query for the cases' plans, not one per case.
    const tierOf = await tiers(
      s.db,
      cases.map((c) => c.subscriptionId),
    );
    for (const c of cases) await advance(s, c, now, policy, contacts, tierOf.get(c.subscriptionId) ?? null, result);
  };
  await run(await due(null, wallNow), wallNow);
  // Test mode only: customers on Stripe test clocks, each clock's frozen time read once.
  const clocks = await s.db
    .selectDistinct({ clock: dunningCases.testClock })
    .from(dunningCases)
    .where(and(inArray(dunningCases.status, ["open", "suspended"]), isNotNull(dunningCases.testClock), isNotNull(dunningCases.nextActionAt)))
    .all();
  // A clock that cannot be read is left out: its cases wait for the next tick.
  for (const [clock, now] of (
    await clockTimes(
      s,
      clocks.map((c) => c.clock),
    )
  ).clocks)
    await run(await due(clock, now), now);
  return result;
}

async function contactOf(s: TickDeps, customerId: string, cache: Map<string, Promise<Contact>>): Promise<Contact> {
  let p = cache.get(customerId);
  if (!p) {
    p = (async () => {
      try {
        const c = await s.stripe.customers.retrieve(customerId);
        if (c.deleted) return { email: null, name: null, hasPaymentMethod: false };
        return { email: c.email ?? null, name: c.name ?? null, hasPaymentMethod: Boolean(c.invoice_settings?.default_payment_method ?? c.default_source) };
      } catch (error) {
        // Stripe unreachable: the mirror's address, and the wording of a card that was declined.
        s.log.log("warn", "dunning: customer fetch failed; using the mirror", { customer: customerId, error: describeError(error) });
        const row = await s.db.select({ email: customers.email, name: customers.name }).from(customers).where(eq(customers.id, customerId)).get();
        return { email: row?.email ?? null, name: row?.name ?? null, hasPaymentMethod: true };
      }
    })();
    cache.set(customerId, p);
  }
  return p;
}

/**
 * Which stages are due at `now`. If the clock jumped over several (a tick outage, a test clock
 * advanced by weeks), only the latest is sent and the earlier ones are recorded as `skipped`:
 * three notices at once would contradict each other ("your payment did not go through" next to
 * "final notice"), and the latest carries the real deadline. Nothing is lost: the steps table
 * says which stages were passed over.
 */
export function dueStages(c: Pick<Case, "anchorAt" | "stage">, now: number, policy: DunningPolicy) {
  const reached = c.stage === null ? -1 : policy.stages.findIndex((st) => st.stage === c.stage);
  const pending = policy.stages.slice(reached + 1);
  const due = pending.filter((st) => stageAt(c.anchorAt, st.day) <= now);
  const next = pending[due.length];
  return { latest: due.at(-1), skipped: due.slice(0, -1), nextActionAt: next ? stageAt(c.anchorAt, next.day) : null };
}

/** When the case acts next: its next stage or its next retry, whichever comes first. */
const nextAction = (stageNext: number | null, retryNext: number | null) => (stageNext === null ? retryNext : retryNext === null ? stageNext : Math.min(stageNext, retryNext));

async function advance(s: TickDeps, selected: Case, now: number, policy: DunningPolicy, contacts: Map<string, Promise<Contact>>, tier: string | null, result: TickResult): Promise<void> {
  try {
    let c: Case | undefined = selected;
    if (c.status === "open" && c.nextRetryAt !== null && c.nextRetryAt <= now) {
      if (!(await retryStep(s, c, now, policy, contacts, tier, result))) return;
      // The stage due at the same time (a declined retry on day 3, then the day-3 email) reads the case as the retry left it.
      c = await s.db.select().from(dunningCases).where(eq(dunningCases.id, c.id)).get();
      if (!c || c.nextActionAt === null || c.nextActionAt > now) return;
    }
    if (c.status === "open") await stageStep(s, c, now, policy, contacts, tier, result);
    else if (c.status === "suspended") await cancelStep(s, c, now, policy, contacts, tier, result);
  } catch (error) {
    if (isStaleRead(error)) {
      result.lost++;
      return;
    }
    // One case that cannot move must not hold back every case due after it.
    result.failed++;
    s.log.log("error", "dunning: a case's step failed; it is due again next tick", { case_id: selected.id, error: describeError(error) });
  }
}

/**
 * Whether the case's invoice is still unpaid at Stripe. Paid or voided there while its webhook is
 * on its way (or was lost), it is synced now through the webhook's own pipeline, which closes the
 * case and restores access; no suspension or cancellation may act on the mirror's stale "open".
 */
async function stillUnpaid(s: TickDeps, c: Case, now: number): Promise<boolean> {
  const inv = await s.stripe.invoices.retrieve(c.invoiceId);
  if (inv.status === "open") return true;
  const targets = emptyTargets();
  targets.invoices.add(c.invoiceId);
  await syncObjects(s, { actor: { type: "cron", id: "dunning" }, cause: `dunning:${c.id}`, at: now }, targets);
  return false;
}

type Attempt = { outcome: "paid" } | { outcome: "declined"; declineCode: string | null } | { outcome: "settled" } | { outcome: "no_payment_method" };

/** Stripe refuses to attempt at all when there is nothing to charge ("no attached payment source or default payment method"). */
const noPaymentMethod = (e: InstanceType<typeof Stripe.errors.StripeInvalidRequestError>) =>
  e.code === "missing" || /no attached payment source|no default payment method|no active card/i.test(e.message);

/**
 * One attempt at the invoice, made once however often it is asked for (Stripe's idempotency key).
 * The key is the case's state as read, not the slot the tick's clock makes due: two ticks whose
 * clocks fall either side of a retry day see different slots but the same case.
 */
async function payOnce(s: TickDeps, c: Case): Promise<Attempt> {
  try {
    const inv = await s.stripe.invoices.pay(c.invoiceId, {}, { idempotencyKey: `dunning:${c.id}:after_${c.retries}` });
    return inv.status === "paid" ? { outcome: "paid" } : { outcome: "declined", declineCode: null };
  } catch (error) {
    if (error instanceof Stripe.errors.StripeCardError) return { outcome: "declined", declineCode: error.decline_code ?? error.code ?? null };
    // Paid or voided meanwhile (the portal, the hosted page): the webhook closes the case.
    if (error instanceof Stripe.errors.StripeInvalidRequestError && ["invoice_already_paid", "invoice_not_editable", "invoice_payment_intent_requires_action"].includes(error.code ?? ""))
      return { outcome: "settled" };
    // Nothing to charge: the slot is used and the stage emails ("add a card") go on.
    if (error instanceof Stripe.errors.StripeInvalidRequestError && noPaymentMethod(error)) return { outcome: "no_payment_method" };
    throw error;
  }
}

/**
 * The worker's retry of a case's invoice. Overdue slots (a tick outage, a clock jump) are
 * recorded as skipped and only the latest is attempted: three attempts at once would only add
 * declines. Returns false when the case moved under it or was closed.
 */
async function retryStep(s: TickDeps, c: Case, now: number, policy: DunningPolicy, contacts: Map<string, Promise<Contact>>, tier: string | null, result: TickResult): Promise<boolean> {
  const slot = Math.max(c.retries, firstSlotAfter(c.anchorAt, now, policy) - 1);
  const allowed = policy.retries.by === "worker" && !isHardDecline(c.lastDeclineCode, policy) && slot < policy.retries.days.length;
  const attempt: Attempt | null = allowed ? await payOnce(s, c) : null;
  // Paid or voided elsewhere: closed by the sync, not left open for the next stage's notice.
  if (attempt?.outcome === "settled" && !(await stillUnpaid(s, c, now))) return false;
  const contact = attempt && attempt.outcome !== "settled" ? await contactOf(s, c.customerId, contacts) : null;
  const step = `retry_${slot + 1}`;
  const outcome = await s.audit.commit(async () => {
    const cur = await s.db.select().from(dunningCases).where(eq(dunningCases.id, c.id)).get();
    if (!cur || cur.status !== "open" || cur.retries !== c.retries || cur.nextRetryAt !== c.nextRetryAt) return { statements: [], entries: [], result: null };
    const statements: BatchItem<"sqlite">[] = [
      guard(s.db, sql`(select count(*) from dunning_cases where id = ${c.id} and status = 'open' and retries = ${c.retries} and next_retry_at = ${c.nextRetryAt}) = 1`),
    ];
    const entries: AuditEntry[] = [];
    const moved = and(eq(dunningCases.id, c.id), eq(dunningCases.status, "open"), eq(dunningCases.retries, c.retries));
    const pendingStage = nextStage(cur.stage as DunningStage | null, policy);
    const stageNext = pendingStage ? stageAt(cur.anchorAt, pendingStage.day) : null;
    if (attempt === null) {
      // Not the worker's to retry (policy, a hard decline, none left): only stages remain.
      statements.push(s.db.update(dunningCases).set({ nextRetryAt: null, nextActionAt: stageNext }).where(moved));
      return { statements, entries, result: "none" };
    }
    for (let k = c.retries; k < slot; k++)
      statements.push(
        s.db
          .insert(dunningSteps)
          .values({ caseId: c.id, step: `retry_${k + 1}`, outcome: "skipped", at: now, emailKey: null })
          .onConflictDoNothing(),
      );
    const email = (key: string, input: EmailInput) => {
      if (!contact?.email || !isEmailAddress(contact.email)) return null;
      statements.push(enqueueEmail(s, { key, to: contact.email, userId: c.userId, email: input }));
      return key;
    };
    if (attempt.outcome === "paid") {
      // The sync would close it too when invoice.paid arrives; closing here keeps the next tick from sending a stage email first.
      const key = email(`${c.id}:payment_recovered`, { template: "payment_recovered", name: contact?.name ?? null, plan: planName(tier), amountPaid: { amount: c.amount, currency: c.currency } });
      statements.push(s.db.insert(dunningSteps).values({ caseId: c.id, step, outcome: "paid", at: now, emailKey: key }).onConflictDoNothing());
      statements.push(
        s.db
          .update(dunningCases)
          .set({ status: "recovered", retries: slot + 1, nextRetryAt: null, nextActionAt: null, closedAt: now })
          .where(moved),
      );
      // Reported here, since the sync then finds the case closed already.
      if (c.userId) statements.push(...outboxStatements(s.db, { type: "dunning.recovered", userId: c.userId, occurredAt: now, data: { user_id: c.userId, invoice_id: c.invoiceId } }, s.clock.now()));
    } else {
      const declineCode = attempt.outcome === "declined" ? (attempt.declineCode ?? cur.lastDeclineCode) : cur.lastDeclineCode;
      const hard = attempt.outcome === "declined" && isHardDecline(declineCode, policy);
      const nextRetryAt = attempt.outcome === "settled" || hard ? null : retryAt(c.anchorAt, slot + 1, now, declineCode, policy);
      const suspendAt = stageAt(c.anchorAt, (policy.stages.find((st) => st.stage === "suspended") ?? policy.stages.at(-1)!).day);
      const key = hard
        ? email(`${c.id}:hard_decline`, {
            template: "hard_decline",
            name: contact?.name ?? null,
            plan: planName(tier),
            amountDue: { amount: c.amount, currency: c.currency },
            hasPaymentMethod: contact?.hasPaymentMethod ?? true,
            suspendAt,
          })
        : null;
      statements.push(
        s.db
          .insert(dunningSteps)
          .values({ caseId: c.id, step, outcome: attempt.outcome === "declined" ? "declined" : "skipped", at: now, emailKey: key })
          .onConflictDoNothing(),
      );
      statements.push(
        s.db
          .update(dunningCases)
          .set({ retries: slot + 1, lastDeclineCode: declineCode, nextRetryAt, nextActionAt: nextAction(stageNext, nextRetryAt) })
          .where(moved),
      );
    }
    entries.push({
      actor: { type: "cron", id: "dunning" },
      action: "dunning.retry",
      subject: { type: "dunning_case", id: c.id },
      before: { retries: c.retries },
      after: { step, outcome: attempt.outcome, skipped: slot - c.retries },
    });
    return { statements, entries, result: `${c.id}:${step}:${attempt.outcome}` };
  });
  if (outcome === null) {
    result.lost++;
    return false;
  }
  if (outcome === "none") return true;
  result.retried.push(outcome);
  // Paid, or settled elsewhere (the webhook closes it): no stage email after it.
  return outcome.endsWith(":declined") || outcome.endsWith(":no_payment_method");
}

/**
 * Ends a case suspended long enough (policy `cancelAfterSuspensionDays`) the way Stripe's own
 * "cancel the subscription if all retries fail" does: the subscription is cancelled, so Stripe
 * invoices no further period, and its open invoices are marked uncollectible, so none is left
 * as a debt; then one email says so, and the case closes as `canceled`. The customer comes back
 * with a new checkout (a canceled subscription is not live).
 *
 * Stripe first, each call under its own idempotency key, then the batch: a tick that crashes in
 * between runs it all again and Stripe answers the same. The batch is guarded by the step not
 * yet recorded, not by the case's status: the webhooks of the cancellation (subscription
 * deleted, invoice uncollectible) close the case too, maybe before this batch, and the email
 * must still go out once.
 */
async function cancelStep(s: TickDeps, c: Case, now: number, policy: DunningPolicy, contacts: Map<string, Promise<Contact>>, tier: string | null, result: TickResult): Promise<void> {
  // The day comes from the policy in force, not the one of the suspension: a deployment that turned
  // the cancellation off (or changed N) since, or a case suspended before the default cancelled,
  // gets its next action moved to what the policy says now, and nothing is cancelled early.
  const suspendAt = stageAt(c.anchorAt, (policy.stages.find((st) => st.stage === "suspended") ?? policy.stages.at(-1)!).day);
  const cancelAt = policy.cancelAfterSuspensionDays === null ? null : suspendAt + policy.cancelAfterSuspensionDays * DAY;
  if (cancelAt === null || cancelAt > now) {
    await s.db
      .update(dunningCases)
      .set({ nextActionAt: cancelAt })
      .where(and(eq(dunningCases.id, c.id), eq(dunningCases.status, "suspended"), eq(dunningCases.nextActionAt, c.nextActionAt!)))
      .run();
    return;
  }
  // Paid since the suspension (its webhook not processed yet): never cancel a paying customer.
  if (!(await stillUnpaid(s, c, now))) return;
  try {
    await s.stripe.subscriptions.cancel(c.subscriptionId, { cancellation_details: { comment: `unpaid invoice ${c.invoiceId}: dunning ended` } }, { idempotencyKey: `dunning:${c.id}:cancel` });
  } catch (error) {
    // Already ended (canceled by hand, or by Stripe): there is nothing left to cancel.
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) throw error;
    // Only a subscription Stripe shows as ended counts as canceled; one it cannot show (gone, or
    // Stripe unreachable) leaves the step due, so the cancellation is never recorded unmade.
    const sub = await s.stripe.subscriptions.retrieve(c.subscriptionId).catch(() => null);
    if (!sub || (sub.status !== "canceled" && sub.status !== "incomplete_expired")) throw error;
  }
  // Every open invoice of the subscription, not only the case's: with a policy that waits past a
  // renewal, the later periods' invoices are as unpaid as the first.
  const marked: string[] = [];
  for await (const inv of s.stripe.invoices.list({ subscription: c.subscriptionId, status: "open", limit: 100 })) {
    try {
      await s.stripe.invoices.markUncollectible(inv.id, {}, { idempotencyKey: `dunning:${c.id}:uncollectible:${inv.id}` });
      marked.push(inv.id);
    } catch (error) {
      // Paid or voided since the list: it is not a debt any more, and its webhook says so.
      if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "invoice_not_editable")) throw error;
    }
  }
  const contact = await contactOf(s, c.customerId, contacts);
  const key = `${c.id}:subscription_canceled`;
  const done = await s.audit.commit(async () => {
    const cur = await s.db.select().from(dunningCases).where(eq(dunningCases.id, c.id)).get();
    const recorded = await s.db
      .select({ step: dunningSteps.step })
      .from(dunningSteps)
      .where(and(eq(dunningSteps.caseId, c.id), eq(dunningSteps.step, "subscription_canceled")))
      .get();
    if (!cur || recorded || (cur.status !== "suspended" && cur.status !== "canceled")) return { statements: [], entries: [], result: null };
    const emailed = contact.email !== null && isEmailAddress(contact.email);
    const statements: BatchItem<"sqlite">[] = [guard(s.db, sql`(select count(*) from dunning_steps where case_id = ${c.id} and step = 'subscription_canceled') = 0`)];
    statements.push(
      s.db
        .insert(dunningSteps)
        .values({ caseId: c.id, step: "subscription_canceled", outcome: "done", at: now, emailKey: emailed ? key : null })
        .onConflictDoNothing(),
    );
    if (emailed)
      statements.push(
        enqueueEmail(s, {
          key,
          to: contact.email!,
          userId: c.userId,
          email: { template: "subscription_canceled", name: contact.name, plan: planName(tier), amountUnpaid: { amount: c.amount, currency: c.currency } },
        }),
      );
    statements.push(
      s.db
        .update(dunningCases)
        .set({ status: "canceled", nextActionAt: null, closedAt: now })
        .where(and(eq(dunningCases.id, c.id), inArray(dunningCases.status, ["suspended", "canceled"]))),
    );
    return {
      statements,
      entries: [
        {
          actor: { type: "cron", id: "dunning" },
          action: "dunning.subscription_canceled",
          subject: { type: "dunning_case", id: c.id },
          before: { subscription: c.subscriptionId },
          after: { canceled: true, uncollectible: marked, emailed },
        },
      ],
      result: `${c.id}:subscription_canceled`,
    };
  });
  if (done) result.done.push(done);
  else result.lost++;
}

async function stageStep(s: TickDeps, selected: Case, now: number, policy: DunningPolicy, contacts: Map<string, Promise<Contact>>, tier: string | null, result: TickResult): Promise<void> {
  const suspendAt = stageAt(selected.anchorAt, (policy.stages.find((st) => st.stage === "suspended") ?? policy.stages.at(-1)!).day);
  // Every stage asks Stripe first whether the invoice is still unpaid: suspending would cut off a
  // customer who paid, and a notice would ask them to pay again, while the payment's webhook is
  // still on its way (or lost). A paid invoice is synced now, which closes the case. Asked even
  // right after a declined retry: that answer may be Stripe replaying an earlier attempt's under
  // the same idempotency key, from before the customer paid.
  if (!(await stillUnpaid(s, selected, now))) return;
  const contact = await contactOf(s, selected.customerId, contacts);
  const outcome = await s.audit.commit(async () => {
    // Read again inside the commit: it is rebuilt when another writer got in first.
    const c = await s.db.select().from(dunningCases).where(eq(dunningCases.id, selected.id)).get();
    if (!c || c.status !== "open" || c.nextActionAt === null || c.nextActionAt > now) return { statements: [], entries: [], result: null };
    const { latest, skipped, nextActionAt: stageNext } = dueStages(c, now, policy);
    if (!latest) {
      // Nothing due after all (the policy changed): just move the next action.
      return {
        statements: [
          s.db
            .update(dunningCases)
            .set({ nextActionAt: nextAction(stageNext, c.nextRetryAt) })
            .where(and(eq(dunningCases.id, c.id), eq(dunningCases.nextActionAt, c.nextActionAt))),
        ],
        entries: [],
        result: null,
      };
    }
    const suspending = latest.stage === "suspended";
    // After the suspension no retry is left; the next action is the cancellation, if the policy has one.
    const nextActionAt = suspending ? (policy.cancelAfterSuspensionDays === null ? null : suspendAt + policy.cancelAfterSuspensionDays * DAY) : nextAction(stageNext, c.nextRetryAt);
    const statements: BatchItem<"sqlite">[] = [guard(s.db, sql`(select count(*) from dunning_cases where id = ${c.id} and status = 'open' and next_action_at = ${c.nextActionAt}) = 1`)];
    const entries: AuditEntry[] = [];
    // "Your access is suspended" only where access was suspended.
    let sendEmail = !suspending || c.userId !== null;
    if (suspending && c.userId) {
      // Access follows the grace (entitlements/state.ts); the stored row becomes suspended now,
      // in this batch, as of the case's clock. A user whose access does not hang on this
      // invoice (another paid subscription) is not suspended, and not told so.
      const suspension = await suspensionOf(s.db, c.userId, now, { type: "cron", id: "dunning" }, s.clock.now());
      statements.push(...suspension.statements);
      entries.push(...suspension.entries);
      sendEmail = suspension.state.status === "suspended";
    }
    const key = `${c.id}:${latest.stage}`;
    const emailed = sendEmail && contact.email !== null && isEmailAddress(contact.email);
    for (const st of skipped) statements.push(s.db.insert(dunningSteps).values({ caseId: c.id, step: st.stage, outcome: "skipped", at: now, emailKey: null }).onConflictDoNothing());
    statements.push(
      s.db
        .insert(dunningSteps)
        .values({ caseId: c.id, step: latest.stage, outcome: "done", at: now, emailKey: emailed ? key : null })
        .onConflictDoNothing(),
    );
    if (emailed) statements.push(enqueueEmail(s, { key, to: contact.email!, userId: c.userId, email: emailFor(latest.stage, c, contact, planName(tier), suspendAt, nextActionAt) }));
    if (c.userId)
      statements.push(
        ...outboxStatements(
          s.db,
          { type: "dunning.stage_reached", userId: c.userId, occurredAt: now, data: { user_id: c.userId, invoice_id: c.invoiceId, stage: latest.stage, day: latest.day } },
          s.clock.now(),
        ),
      );
    statements.push(
      s.db
        .update(dunningCases)
        .set({ stage: latest.stage, nextActionAt, ...(suspending ? { status: "suspended" as const, closedAt: now, nextRetryAt: null } : {}) })
        .where(and(eq(dunningCases.id, c.id), eq(dunningCases.status, "open"), eq(dunningCases.nextActionAt, c.nextActionAt))),
    );
    entries.push({
      actor: { type: "cron", id: "dunning" },
      action: `dunning.${latest.stage}`,
      subject: { type: "dunning_case", id: c.id },
      before: { stage: c.stage },
      after: { stage: latest.stage, skipped: skipped.map((st) => st.stage), emailed },
    });
    return { statements, entries, result: { done: key, skipped: skipped.map((st) => `${c.id}:${st.stage}`) } };
  });
  if (outcome) {
    result.done.push(outcome.done);
    result.skipped.push(...outcome.skipped);
  }
}

function emailFor(stage: DunningStage, c: Case, contact: Contact, plan: string, suspendAt: number, nextActionAt: number | null): EmailInput {
  const amountDue = { amount: c.amount, currency: c.currency };
  // After the suspension the next action, if any, is the cancellation: the customer is told when.
  if (stage === "suspended") return { template: "suspended", name: contact.name, plan, amountDue, hasPaymentMethod: contact.hasPaymentMethod, cancelAt: nextActionAt };
  return { template: stage, name: contact.name, plan, amountDue, hasPaymentMethod: contact.hasPaymentMethod, suspendAt };
}

/**
 * The tick for named cases only (manage_dunning_process): each one that is due moves exactly as
 * the cron would move it, under the same guards and idempotency keys, so a nudge racing the
 * cron still makes each stage and retry once. Cases not due are left alone.
 */
export async function dunningTickCases(s: TickDeps, caseIds: string[], policy: DunningPolicy = s.dunning): Promise<TickResult> {
  const result: TickResult = { done: [], retried: [], skipped: [], lost: 0, failed: 0 };
  if (caseIds.length === 0) return result;
  const cases = await s.db
    .select()
    .from(dunningCases)
    .where(and(inArray(dunningCases.id, caseIds), inArray(dunningCases.status, ["open", "suspended"]), isNotNull(dunningCases.nextActionAt)))
    .all();
  const contacts = new Map<string, Promise<Contact>>();
  const tierOf = await tiers(
    s.db,
    cases.map((c) => c.subscriptionId),
  );
  const nowOn = clockReader(s);
  for (const c of cases) {
    const now = await nowOn(c.testClock);
    if (c.nextActionAt! <= now) await advance(s, c, now, policy, contacts, tierOf.get(c.subscriptionId) ?? null, result);
  }
  return result;
}
