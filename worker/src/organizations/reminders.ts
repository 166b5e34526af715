/**
 * What the quarter-hour cron does for organizations, each on its own clock (a customer on a
 * Stripe test clock lives on that clock's time, test-clocks.ts):
 *
 * - Renewal reminders to `billing_email` at the policy's days before the term's end (90, 60 and
 *   30), while the term is not renewed. Each is sent once: its outbox key names the organization,
 *   the term's end and the day, and enqueuing a key again stores nothing. A run that finds more
 *   than one day passed (the cron was down) sends the nearest only.
 * - Overdue reminders to `billing_email` at the policy's days after an unpaid invoice's due date
 *   (1, 15 and 30), each once per invoice, the same way. The due date is Stripe's; the cron
 *   compares it with the organization's clock rather than waiting for `invoice.overdue`, which
 *   Stripe sends once, on a setting of the account. Seats are never suspended for it: a
 *   late federal payment earns interest (the Prompt Payment Act), not a cut in service, and
 *   `suspend_after_days_overdue` stays null unless the policy says otherwise; when it is a number,
 *   an organization with an invoice that many days late is `suspended` (its seats grant nothing)
 *   until no invoice is, and each change is audited.
 * - When a renewed organization's next term has started, its row moves on to it (term, months,
 *   seats, PO number as the subscription has them), so the view and the next reminders follow.
 *
 * The individual dunning sequence never runs for these invoices (dunning/sync-follower.ts opens
 * no case for a send_invoice invoice or an organization's customer).
 */
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { catalog as defaultCatalog, planName, type Catalog } from "../catalog";
import { customers, invoices, organizations, subscriptions } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email";
import { describeError } from "../log";
import type { Services } from "../services";
import { emptyTargets, type Stripe, syncObjects } from "../stripe-sync";
import { clockTimes } from "../test-clocks";

const DAY = 86_400_000;

export type ReminderDeps = Pick<Services, "db" | "stripe" | "clock" | "log" | "appBaseUrl" | "audit" | "dunning" | "syncFollowers">;

export interface ReminderRun {
  renewal: number;
  overdue: number;
  rolled: number;
  suspended: number;
}

/** The renewal reminder day due `msLeft` before the term's end: the smallest policy day not yet passed. */
export function renewalStep(days: readonly number[], msLeft: number): number | null {
  if (msLeft <= 0) return null;
  const reached = days.filter((d) => msLeft <= d * DAY);
  return reached.length === 0 ? null : Math.min(...reached);
}

/** The overdue reminder day due `msLate` after the due date: the largest policy day reached. */
export function overdueStep(days: readonly number[], msLate: number): number | null {
  const reached = days.filter((d) => msLate >= d * DAY);
  return reached.length === 0 ? null : Math.max(...reached);
}

export async function organizationReminders(s: ReminderDeps, from: Catalog = defaultCatalog): Promise<ReminderRun> {
  const policy = from.policy.organizations;
  const rows = await s.db
    .select({ org: organizations, clock: customers.testClock, sub: subscriptions })
    .from(organizations)
    .leftJoin(customers, eq(customers.id, organizations.customerId))
    .leftJoin(subscriptions, eq(subscriptions.id, organizations.subscriptionId))
    .where(and(inArray(organizations.status, ["active", "suspended"]), isNotNull(organizations.subscriptionId)))
    .all();
  const times = await clockTimes(
    s,
    rows.map((r) => r.clock ?? null),
  );
  // One query for every organization instead of a Stripe list per organization per run: only an
  // organization the mirror shows with an open invoice is asked of Stripe (which stays the word
  // on due dates and on a payment recorded a moment ago).
  const owing = new Set(
    (
      await s.db.selectDistinct({ customerId: invoices.customerId }).from(invoices).innerJoin(organizations, eq(organizations.customerId, invoices.customerId)).where(eq(invoices.status, "open")).all()
    ).map((r) => r.customerId),
  );
  const run: ReminderRun = { renewal: 0, overdue: 0, rolled: 0, suspended: 0 };
  const plan = planName(policy.tier, from);
  for (const { org, clock, sub } of rows) {
    if (!sub || sub.status === "canceled" || sub.status === "incomplete_expired") continue;
    const now = times.of(clock ?? null);
    try {
      let termEnd = org.termEnd;
      if (termEnd !== null && now >= termEnd && sub.currentPeriodStart !== null && sub.currentPeriodStart * 1000 >= termEnd) {
        termEnd = await rollForward(s, org, sub);
        run.rolled++;
      }
      const mailable = isEmailAddress(org.billingEmail);
      // Renewed: the next term is scheduled, and its end is where the next reminders count from.
      // A schedule alone does not say so: a renewed term keeps its schedule while it runs, and
      // its own renewal is due again; only a phase after this term's end is a renewal.
      const step = mailable && termEnd !== null ? renewalStep(policy.renewal_reminder_days, termEnd - now) : null;
      if (step !== null && termEnd !== null && !(sub.scheduleId !== null && (await renewedPast(s, sub.scheduleId, termEnd)))) {
        const stored = await enqueueEmail(s, {
          key: `organization:${org.orgId}:renewal:${termEnd}:${step}`,
          to: org.billingEmail,
          email: { template: "organization_renewal_reminder", name: org.name, plan, termEndsAt: termEnd, daysLeft: Math.ceil((termEnd - now) / DAY), seats: sub.quantity },
        }).run();
        run.renewal += changes(stored);
      }
      const overdue = org.customerId !== null && owing.has(org.customerId) ? await overdueReminders(s, org, plan, now, policy.overdue_reminder_days, mailable) : NONE_OVERDUE;
      run.overdue += overdue.sent;
      // Only when the policy says so (default null: never): seats off while an invoice is that late, on again once it is not.
      const limit = policy.suspend_after_days_overdue;
      const late = limit !== null && overdue.latestMs >= limit * DAY;
      if (late !== (org.status === "suspended")) {
        await setSuspended(s, org, sub.id, late, overdue.latestMs);
        run.suspended += late ? 1 : 0;
      }
    } catch (e) {
      // One organization's trouble (Stripe down for its invoices) does not hold up the others.
      s.log.log("error", "organization reminders failed", { org_id: org.orgId, error: describeError(e) });
    }
  }
  return run;
}

const NONE_OVERDUE = { sent: 0, latestMs: -Infinity } as const;

function changes(result: unknown): number {
  return (result as { meta?: { changes?: number } }).meta?.changes ?? 0;
}

/** Reminds of each overdue invoice (when `mailable`); returns those sent and how late the latest invoice is (ms; -Infinity with none overdue). */
async function overdueReminders(
  s: ReminderDeps,
  org: typeof organizations.$inferSelect,
  plan: string,
  now: number,
  days: readonly number[],
  mailable: boolean,
): Promise<{ sent: number; latestMs: number }> {
  let latestMs = -Infinity;
  if (org.customerId === null) return { sent: 0, latestMs };
  let sent = 0;
  // Stripe's open invoices, not the mirror's: the due date is Stripe's, and a payment recorded a
  // moment ago must not be reminded of.
  for await (const inv of s.stripe.invoices.list({ customer: org.customerId, status: "open", limit: 100 })) {
    if (inv.collection_method !== "send_invoice" || inv.due_date === null || inv.due_date === undefined) continue;
    latestMs = Math.max(latestMs, now - inv.due_date * 1000);
    const step = mailable ? overdueStep(days, now - inv.due_date * 1000) : null;
    if (step === null) continue;
    const stored = await enqueueEmail(s, {
      key: `organization:${org.orgId}:overdue:${inv.id}:${step}`,
      to: org.billingEmail,
      email: {
        template: "organization_invoice_overdue",
        name: org.name,
        plan,
        invoiceNumber: inv.number ?? inv.id,
        amountDue: { amount: inv.amount_remaining, currency: inv.currency },
        dueDate: inv.due_date * 1000,
        daysOverdue: step,
        invoiceUrl: inv.hosted_invoice_url ?? null,
        poNumber: poNumberOf(inv.custom_fields ?? null) ?? org.poNumber,
      },
    }).run();
    sent += changes(stored);
  }
  return { sent, latestMs };
}

/**
 * Turns the organization's seats off (or on again): the status first, then a sync of its
 * subscription, which rederives every member's entitlement (readSeats leaves a suspended
 * organization's seats out), audited. When the sync fails the status is put back, so the next
 * run tries again.
 */
async function setSuspended(s: ReminderDeps, org: typeof organizations.$inferSelect, subscriptionId: string, suspend: boolean, lateMs: number): Promise<void> {
  const [from, to] = suspend ? (["active", "suspended"] as const) : (["suspended", "active"] as const);
  await s.db
    .update(organizations)
    .set({ status: to, updatedAt: s.clock.now() })
    .where(and(eq(organizations.orgId, org.orgId), eq(organizations.status, from)));
  const targets = emptyTargets();
  targets.subscriptions.add(subscriptionId);
  const who = { type: "system" as const, id: "organization-reminders" };
  try {
    await syncObjects(s, { actor: who, cause: suspend ? "organization.suspended" : "organization.reinstated", at: s.clock.now() }, targets, {
      entries: [
        {
          actor: who,
          action: suspend ? "organization.suspended" : "organization.reinstated",
          subject: { type: "organization", id: org.orgId },
          before: { status: from },
          after: { status: to, days_overdue: Number.isFinite(lateMs) ? Math.floor(lateMs / DAY) : null },
        },
      ],
    });
  } catch (e) {
    await s.db
      .update(organizations)
      .set({ status: from })
      .where(and(eq(organizations.orgId, org.orgId), eq(organizations.status, to)));
    throw e;
  }
}

/** Whether the schedule has a phase starting at or after `termEnd` (ms): the term is renewed. */
async function renewedPast(s: ReminderDeps, scheduleId: string, termEnd: number): Promise<boolean> {
  const schedule = await s.stripe.subscriptionSchedules.retrieve(scheduleId);
  return schedule.phases.some((p) => p.start_date * 1000 >= termEnd);
}

/** The PO number printed on an invoice or a subscription's invoices (organizations/create.ts names the field). */
export function poNumberOf(fields: { name: string; value: string }[] | null): string | null {
  return fields?.find((f) => f.name === "PO number")?.value ?? null;
}

/** The next term has started on the same subscription: the row follows it. Returns the new term's end (ms). */
async function rollForward(s: ReminderDeps, org: typeof organizations.$inferSelect, sub: typeof subscriptions.$inferSelect): Promise<number> {
  const live: Stripe.Subscription = await s.stripe.subscriptions.retrieve(sub.id);
  const item = live.items.data[0]!;
  const termStart = item.current_period_start * 1000;
  const termEnd = (live.cancel_at ?? item.current_period_end) * 1000;
  const months = (item.price.recurring?.interval === "year" ? 12 : 1) * (item.price.recurring?.interval_count ?? 1);
  await s.db
    .update(organizations)
    .set({
      termStart,
      termEnd,
      termMonths: months,
      seats: item.quantity ?? org.seats,
      poNumber: poNumberOf(live.invoice_settings?.custom_fields ?? null) ?? org.poNumber,
      updatedAt: s.clock.now(),
      version: org.version + 1,
    })
    .where(and(eq(organizations.orgId, org.orgId), eq(organizations.version, org.version)));
  return termEnd;
}
