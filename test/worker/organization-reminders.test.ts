/**
 * The organizations' reminders (organizations/reminders.ts, on the quarter-hour cron), each on
 * the organization's test clock: renewal reminders at 90, 60 and 30 days before the term's end,
 * overdue reminders at 1, 15 and 30 days after an unpaid invoice's due date, each once; the
 * seats keep their access while the invoice is overdue, no dunning case opens, and an ACH
 * payment recorded ends the reminders. Stripe is the emulator; D1 and the outbox are real.
 */
import { eq, like } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, dunningCases, emailOutbox, organizations } from "../../worker/src/db/schema";
import { organizationReminders, overdueStep, renewalStep } from "../../worker/src/organizations";
import { catalog } from "../../worker/src/catalog";
import { call, makeKey, svc } from "./helpers";
import { buyOrganization, takeSeats } from "./organization-term-helpers";
import { db, deliverAll, stripe, testClock } from "./stripe-helpers";

let service: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
});

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function emailsOf(orgId: string, kind: "renewal" | "overdue") {
  const rows = await db()
    .select()
    .from(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `organization:${orgId}:${kind}:%`))
    .all();
  return rows.sort((a, b) => a.createdAt - b.createdAt || a.idempotencyKey.localeCompare(b.idempotencyKey));
}

const access = async (userId: string) => (await call("GET", `/v1/entitlements/${userId}`, { key: service })).json<{ tier: string | null; status: string; org_id: string | null }>();

describe("the reminder days", () => {
  it("a renewal reminder is the nearest policy day reached before the end, none after it; an overdue one the furthest reached after the due date", () => {
    expect([renewalStep([90, 60, 30], 91 * DAY), renewalStep([90, 60, 30], 90 * DAY), renewalStep([90, 60, 30], 45 * DAY), renewalStep([90, 60, 30], DAY), renewalStep([90, 60, 30], 0)]).toEqual([
      null,
      90,
      60,
      30,
      null,
    ]);
    expect([overdueStep([1, 15, 30], 23 * HOUR), overdueStep([1, 15, 30], DAY), overdueStep([1, 15, 30], 20 * DAY), overdueStep([1, 15, 30], 400 * DAY)]).toEqual([null, 1, 15, 30]);
  });
});

describe("organizationReminders", () => {
  it("sends the renewal reminders at 90, 60 and 30 days before the term's end to billing_email, each once, and none once renewed", async () => {
    const clock = await testClock();
    const { orgId, row } = await buyOrganization(service, { seats: 3, test_clock: clock.id });
    const renewed = await buyOrganization(service, { seats: 3, test_clock: clock.id });
    expect((await call("POST", `/v1/organizations/${renewed.orgId}/renew`, { key: service, body: {} })).status).toBe(200);
    const end = row.termEnd!;
    const days: number[] = [];
    for (const at of [end - 91 * DAY, end - 90 * DAY + HOUR, end - 89 * DAY, end - 60 * DAY + HOUR, end - 30 * DAY + HOUR, end - 29 * DAY, end - HOUR]) {
      await clock.advanceTo(at);
      await organizationReminders(svc());
      days.push((await emailsOf(orgId, "renewal")).length);
    }
    expect(days).toEqual([0, 1, 1, 2, 3, 3, 3]);
    const sent = await emailsOf(orgId, "renewal");
    expect(sent.map((e) => e.idempotencyKey)).toEqual([90, 60, 30].map((d) => `organization:${orgId}:renewal:${end}:${d}`));
    expect(new Set(sent.map((e) => e.to))).toEqual(new Set(["ap@agency.example.gov"]));
    expect(sent.map((e) => e.template)).toEqual(Array(3).fill("organization_renewal_reminder"));
    expect(sent[2]!.subject).toContain("term ends on");
    expect(await emailsOf(renewed.orgId, "renewal")).toEqual([]);
  });

  it("a renewed term, once it runs, is reminded of its own end: 90 days before it a renewal reminder goes out", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 2, test_clock: clock.id });
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });
    const renewal = await (await call("POST", `/v1/organizations/${orgId}/renew`, { key: service, body: {} })).json<{ next_term: { end: string } }>();
    await clock.advanceTo(row.termEnd! + HOUR);
    await deliverAll({ customer: row.customerId!, sub: row.subscriptionId! });
    await organizationReminders(svc());
    const end = Date.parse(renewal.next_term.end);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.termEnd).toBe(end);

    await clock.advanceTo(end - 90 * DAY + HOUR);
    await organizationReminders(svc());
    expect((await emailsOf(orgId, "renewal")).map((e) => e.idempotencyKey)).toContain(`organization:${orgId}:renewal:${end}:90`);
  });

  it("an invoice unpaid past its due date: reminders on days 1, 15 and 30, each once; the seats stay on and no dunning case opens; an ACH payment ends them", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 2, test_clock: clock.id });
    await takeSeats(service, orgId, 1);
    const member = `${orgId}_user_0`;
    const invoice = org.invoices[0]!;
    const due = Date.parse(invoice.due_date!);
    const counts: number[] = [];
    for (const at of [due - HOUR, due + DAY + HOUR, due + 2 * DAY, due + 15 * DAY + HOUR, due + 16 * DAY, due + 30 * DAY + HOUR]) {
      await clock.advanceTo(at);
      await deliverAll({ customer: row.customerId!, sub: row.subscriptionId! });
      await organizationReminders(svc());
      await organizationReminders(svc());
      counts.push((await emailsOf(orgId, "overdue")).length);
      expect(await access(member), `access at ${new Date(at).toISOString()}`).toMatchObject({ tier: "agency", status: "active", org_id: orgId });
    }
    expect(counts).toEqual([0, 1, 1, 2, 2, 3]);
    const sent = await emailsOf(orgId, "overdue");
    expect(sent.map((e) => e.idempotencyKey)).toEqual([1, 15, 30].map((d) => `organization:${orgId}:overdue:${invoice.id}:${d}`));
    expect(sent[0]!.text).toContain("PO-2026-0042");
    expect(sent[0]!.text).toContain("$780.00");
    expect(await db().select().from(dunningCases).where(eq(dunningCases.customerId, row.customerId!)).all()).toEqual([]);

    const paid = await call("POST", `/v1/organizations/${orgId}/invoices/${invoice.id}/payments`, { key: service, body: { method: "ach", reference: "TRACE-1" } });
    expect(paid.status).toBe(201);
    await clock.advanceTo(due + 45 * DAY);
    await organizationReminders(svc());
    expect(await emailsOf(orgId, "overdue")).toHaveLength(3);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.status).toBe("active");
  });

  it("with a policy that suspends after 10 days overdue: the seats grant nothing from day 10 until the invoice is paid, each change audited", async () => {
    const strict = { ...catalog, policy: { ...catalog.policy, organizations: { ...catalog.policy.organizations, suspend_after_days_overdue: 10 } } };
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 2, test_clock: clock.id });
    await takeSeats(service, orgId, 1);
    const member = `${orgId}_user_0`;
    const due = Date.parse(org.invoices[0]!.due_date!);
    const status = async () => (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.status;

    await clock.advanceTo(due + 5 * DAY);
    await deliverAll({ customer: row.customerId!, sub: row.subscriptionId! });
    await organizationReminders(svc(), strict);
    expect([await status(), (await access(member)).tier]).toEqual(["active", "agency"]);

    await clock.advanceTo(due + 10 * DAY + HOUR);
    await organizationReminders(svc(), strict);
    await organizationReminders(svc(), strict);
    expect([await status(), (await access(member)).tier]).toEqual(["suspended", null]);
    expect((await (await call("GET", `/v1/organizations/${orgId}`, { key: service })).json<{ status: string }>()).status).toBe("suspended");
    // The default policy would have kept it on: suspension is the policy's, never the default.
    expect(catalog.policy.organizations.suspend_after_days_overdue).toBeNull();

    expect((await call("POST", `/v1/organizations/${orgId}/invoices/${org.invoices[0]!.id}/payments`, { key: service, body: { method: "ach", reference: "LATE-1" } })).status).toBe(201);
    await organizationReminders(svc(), strict);
    expect([await status(), (await access(member)).tier]).toEqual(["active", "agency"]);
    const audit = await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all();
    expect(audit.map((a) => a.action).filter((a) => a === "organization.suspended" || a === "organization.reinstated")).toEqual(["organization.suspended", "organization.reinstated"]);
  });
});
