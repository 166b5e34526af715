/**
 * The dunning tick (the `*\/15` cron): moves open cases through the policy's stages.
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
 */
import { and, eq, isNotNull, isNull, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AuditEntry } from "../audit/chain";
import { guard, isStaleRead } from "../db/guard";
import { customers, dunningCases, dunningSteps } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email/outbox";
import type { EmailInput } from "../email/templates";
import { describeError } from "../log";
import { suspensionOf } from "../entitlements/suspend";
import type { Services } from "../services";
import { planName, tiers } from "./cases";
import { dunningPolicy, stageAt, type DunningPolicy, type DunningStage } from "./policy";

export type TickDeps = Pick<Services, "db" | "clock" | "stripe" | "audit" | "appBaseUrl" | "log">;
type Case = typeof dunningCases.$inferSelect;

export interface TickResult {
  /** Stages that happened (their email enqueued, suspension applied), as `<case>:<stage>`. */
  done: string[];
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

export async function dunningTick(s: TickDeps, policy: DunningPolicy = dunningPolicy): Promise<TickResult> {
  const result: TickResult = { done: [], skipped: [], lost: 0, failed: 0 };
  const contacts = new Map<string, Promise<Contact>>();
  const wallNow = s.clock.now();
  const due = (clock: string | null, now: number) =>
    s.db
      .select()
      .from(dunningCases)
      .where(and(eq(dunningCases.status, "open"), clock === null ? isNull(dunningCases.testClock) : eq(dunningCases.testClock, clock), lte(dunningCases.nextActionAt, now)))
      .orderBy(dunningCases.nextActionAt)
      .limit(policy.tickBatch)
      .all();
  const run = async (cases: Case[], now: number) => {
    // One query for the cases' plans, not one per case.
    const tierOf = await tiers(s.db, cases.map((c) => c.subscriptionId));
    for (const c of cases) await advance(s, c, now, policy, contacts, tierOf.get(c.subscriptionId) ?? null, result);
  };
  await run(await due(null, wallNow), wallNow);
  // Test mode only: customers on Stripe test clocks, each clock's frozen time read once.
  const clocks = await s.db.selectDistinct({ clock: dunningCases.testClock }).from(dunningCases).where(and(eq(dunningCases.status, "open"), isNotNull(dunningCases.testClock))).all();
  for (const { clock } of clocks) {
    let now: number;
    try {
      now = (await s.stripe.testHelpers.testClocks.retrieve(clock!)).frozen_time * 1000;
    } catch (error) {
      s.log.log("warn", "dunning: cannot read a test clock; its cases wait", { clock, error: describeError(error) });
      continue;
    }
    await run(await due(clock, now), now);
  }
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
export function dueStages(c: Pick<Case, "anchorAt" | "stage">, now: number, policy: DunningPolicy = dunningPolicy) {
  const reached = c.stage === null ? -1 : policy.stages.findIndex((st) => st.stage === c.stage);
  const pending = policy.stages.slice(reached + 1);
  const due = pending.filter((st) => stageAt(c.anchorAt, st.day) <= now);
  const next = pending[due.length];
  return { latest: due.at(-1), skipped: due.slice(0, -1), nextActionAt: next ? stageAt(c.anchorAt, next.day) : null };
}

async function advance(s: TickDeps, selected: Case, now: number, policy: DunningPolicy, contacts: Map<string, Promise<Contact>>, tier: string | null, result: TickResult): Promise<void> {
  const suspendAt = stageAt(selected.anchorAt, (policy.stages.find((st) => st.stage === "suspended") ?? policy.stages.at(-1)!).day);
  try {
    const contact = await contactOf(s, selected.customerId, contacts);
    const outcome = await s.audit.commit(async () => {
      // Read again inside the commit: it is rebuilt when another writer got in first.
      const c = await s.db.select().from(dunningCases).where(eq(dunningCases.id, selected.id)).get();
      if (!c || c.status !== "open" || c.nextActionAt === null || c.nextActionAt > now) return { statements: [], entries: [], result: null };
      const { latest, skipped, nextActionAt } = dueStages(c, now, policy);
      if (!latest) {
        // Nothing due after all (the policy changed): just move the next action.
        return { statements: [s.db.update(dunningCases).set({ nextActionAt }).where(and(eq(dunningCases.id, c.id), eq(dunningCases.nextActionAt, c.nextActionAt)))], entries: [], result: null };
      }
      const statements: BatchItem<"sqlite">[] = [guard(s.db, sql`(select count(*) from dunning_cases where id = ${c.id} and status = 'open' and next_action_at = ${c.nextActionAt}) = 1`)];
      const entries: AuditEntry[] = [];
      // "Your access is suspended" only where access was suspended.
      let sendEmail = latest.stage !== "suspended" || c.userId !== null;
      if (latest.stage === "suspended" && c.userId) {
        // Access follows the grace (entitlements/state.ts); the stored row becomes suspended now,
        // in this batch, as of the case's clock. A user whose access does not hang on this
        // invoice (another paid subscription) is not suspended, and not told so.
        const suspension = await suspensionOf(s.db, c.userId, now, { type: "cron", id: "dunning" });
        statements.push(...suspension.statements);
        entries.push(...suspension.entries);
        sendEmail = suspension.state.status === "suspended";
      }
      const key = `${c.id}:${latest.stage}`;
      const emailed = sendEmail && contact.email !== null && isEmailAddress(contact.email);
      for (const st of skipped) statements.push(s.db.insert(dunningSteps).values({ caseId: c.id, step: st.stage, outcome: "skipped", at: now, emailKey: null }).onConflictDoNothing());
      statements.push(s.db.insert(dunningSteps).values({ caseId: c.id, step: latest.stage, outcome: "done", at: now, emailKey: emailed ? key : null }).onConflictDoNothing());
      if (emailed) statements.push(enqueueEmail(s, { key, to: contact.email!, userId: c.userId, email: emailFor(latest.stage, c, contact, planName(tier), suspendAt) }));
      statements.push(
        s.db
          .update(dunningCases)
          .set({ stage: latest.stage, nextActionAt, ...(latest.stage === "suspended" ? { status: "suspended" as const, closedAt: now } : {}) })
          .where(and(eq(dunningCases.id, c.id), eq(dunningCases.status, "open"), eq(dunningCases.nextActionAt, c.nextActionAt))),
      );
      entries.push({ actor: { type: "cron", id: "dunning" }, action: `dunning.${latest.stage}`, subject: { type: "dunning_case", id: c.id }, before: { stage: c.stage }, after: { stage: latest.stage, skipped: skipped.map((st) => st.stage), emailed } });
      return { statements, entries, result: { done: key, skipped: skipped.map((st) => `${c.id}:${st.stage}`) } };
    });
    if (outcome) {
      result.done.push(outcome.done);
      result.skipped.push(...outcome.skipped);
    }
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

function emailFor(stage: DunningStage, c: Case, contact: Contact, plan: string, suspendAt: number): EmailInput {
  const amountDue = { amount: c.amount, currency: c.currency };
  if (stage === "suspended") return { template: "suspended", name: contact.name, plan, amountDue, hasPaymentMethod: contact.hasPaymentMethod };
  return { template: stage, name: contact.name, plan, amountDue, hasPaymentMethod: contact.hasPaymentMethod, suspendAt };
}
