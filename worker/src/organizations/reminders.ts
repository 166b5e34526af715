/**
 * The reminders an organization's billing contact gets (the quarter-hour cron): before its term
 * ends (policy `renewal_reminder_days`, default 90, 60 and 30 days), since a term never renews by
 * itself, and after an invoice's due date passes unpaid (`overdue_reminder_days`, default 1, 15
 * and 30 days), while the seats stay on. Each is an email keyed by the organization, the term or
 * invoice and the day, so it is stored once however often the cron runs; a run that finds
 * several days due (the cron was down) sends only the latest. Days are counted on the
 * organization's own time (its Stripe test clock's, in test mode).
 */
import { and, eq, isNotNull } from "drizzle-orm";
import { catalog as defaultCatalog, planName, type Catalog } from "../catalog";
import { customers, organizations } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email";
import type { Services } from "../services";
import { clockReader } from "../test-clocks";

const DAY = 86_400_000;

/** The largest of `days` that `elapsed` (ms) has reached, or null. */
function latestDue(days: readonly number[], elapsed: number): number | null {
  const due = days.filter((d) => elapsed >= d * DAY);
  return due.length ? Math.max(...due) : null;
}

export async function sendOrganizationReminders(s: Pick<Services, "db" | "clock" | "stripe" | "log" | "appBaseUrl">, from: Catalog = defaultCatalog): Promise<{ enqueued: number }> {
  const policy = from.policy.organizations;
  const plan = planName(policy.tier, from);
  const nowOn = clockReader(s);
  const orgs = await s.db
    .select({ org: organizations, testClock: customers.testClock })
    .from(organizations)
    .leftJoin(customers, eq(customers.id, organizations.customerId))
    .where(and(eq(organizations.status, "active"), isNotNull(organizations.customerId)))
    .all();
  let enqueued = 0;
  for (const { org, testClock } of orgs) {
    if (!isEmailAddress(org.billingEmail)) continue;
    const now = await nowOn(testClock ?? null);
    const writes = [];
    if (org.termEnd !== null && now < org.termEnd) {
      // Counting down: the reminder of the fewest days left that is due (90 before 60 before 30).
      const left = org.termEnd - now;
      const due = policy.renewal_reminder_days.filter((d) => left <= d * DAY);
      if (due.length) {
        const d = Math.min(...due);
        writes.push(
          enqueueEmail(s, {
            key: `organization:${org.orgId}:renewal:${org.termEnd}:${d}`,
            to: org.billingEmail,
            email: { template: "organization_renewal_reminder", name: org.name, plan, termEndsAt: org.termEnd, seats: org.seats },
          }),
        );
      }
    }
    const open = await s.stripe.invoices.list({ customer: org.customerId!, status: "open", limit: 100 });
    for (const inv of open.data) {
      if (inv.due_date === null || inv.due_date === undefined) continue;
      const d = latestDue(policy.overdue_reminder_days, now - inv.due_date * 1000);
      if (d === null) continue;
      writes.push(
        enqueueEmail(s, {
          key: `organization:${org.orgId}:overdue:${inv.id}:${d}`,
          to: org.billingEmail,
          email: {
            template: "organization_invoice_overdue",
            name: org.name,
            plan,
            invoiceNumber: inv.number ?? inv.id,
            amountDue: { amount: inv.amount_remaining, currency: inv.currency },
            dueAt: inv.due_date * 1000,
            invoiceUrl: inv.hosted_invoice_url ?? null,
          },
        }),
      );
    }
    for (const w of writes) if (((await w.run()) as { meta?: { changes?: number } }).meta?.changes) enqueued++;
  }
  return { enqueued };
}
