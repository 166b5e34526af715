/**
 * Organizations (issue 25): an agency buys seats for a fixed term on an invoice with its PO
 * number, sent and not charged; the view; bad input refused before anything is made in Stripe or
 * D1. Stripe is the emulator through the official client; the worker's writes go to real D1.
 */
import { eq } from "drizzle-orm";
import { env } from "cloudflare:test";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, dunningCases, emailOutbox, organizations, paymentAttempts, subscriptions } from "../../worker/src/db/schema";
import { organizationReminders } from "../../worker/src/organizations";
import { call, count, makeKey, svc } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";
import { agencyBody } from "./organization-helpers";
import { db, deliver, eventsFor, settled, stripe, testClock } from "./stripe-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

let n = 0;
const newOrg = () => `org_${Date.now().toString(36)}_${++n}`;

interface OrganizationWire {
  org_id: string;
  name: string;
  billing_email: string;
  seats: number;
  seats_assigned: number;
  term: { start: string; end: string; months: number };
  renewal: string;
  status: string;
  po_number: string | null;
  invoices: { id: string; number: string | null; status: string; amount_due: number; currency: string; due_date: string | null; hosted_invoice_url: string | null }[];
}

const create = (body: unknown, idempotencyKey?: string) => call("POST", "/v1/organizations", { key: service, body, ...(idempotencyKey ? { headers: { "idempotency-key": idempotencyKey } } : {}) });

const DAY = 86_400_000;

describe("POST /v1/organizations", () => {
  it("an agency buys 25 seats for 12 months: one customer, one send_invoice subscription of 25 seats ending at the term's end, an open invoice of 975,000 cents due in 30 days with the PO number, nothing charged", async () => {
    const clock = await testClock();
    const orgId = newOrg();
    const res = await create(agencyBody(orgId, { test_clock: clock.id }));
    expect(res.status).toBe(201);
    const org = await res.json<OrganizationWire>();
    expect(org).toMatchObject({ org_id: orgId, seats: 25, seats_assigned: 0, renewal: "manual", status: "active", po_number: "PO-2026-0042", term: { months: 12 } });
    const start = Date.parse(org.term.start);
    const end = new Date(start);
    end.setUTCFullYear(end.getUTCFullYear() + 1);
    expect(org.term.end).toBe(end.toISOString());
    expect(org.invoices).toHaveLength(1);
    const inv = org.invoices[0]!;
    expect([inv.status, inv.amount_due, inv.currency, inv.due_date]).toEqual(["open", 975_000, "usd", new Date(start + 30 * DAY).toISOString()]);
    expect(inv.hosted_invoice_url).toMatch(/^https?:\/\//);

    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    const customer = await stripe().customers.retrieve(row.customerId!);
    expect(customer).toMatchObject({
      name: "Office of Personnel Transition",
      email: "ap@agency.example.gov",
      metadata: { org_id: orgId },
      address: { city: "Washington", state: "DC", country: "US" },
    });
    expect((await stripe().customers.listTaxIds(row.customerId!)).data.map((t) => [t.type, t.value])).toEqual([["us_ein", "12-3456789"]]);
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    expect([sub.collection_method, sub.days_until_due, sub.items.data[0]?.quantity, sub.cancel_at, sub.metadata.org_id, sub.metadata.user_id]).toEqual([
      "send_invoice",
      30,
      25,
      end.getTime() / 1000,
      orgId,
      undefined,
    ]);
    const stripeInv = await stripe().invoices.retrieve(inv.id);
    expect(stripeInv.custom_fields).toEqual([
      { name: "PO number", value: "PO-2026-0042" },
      { name: "Agency", value: "Office of Personnel Transition" },
    ]);
    expect([stripeInv.attempted, stripeInv.next_payment_attempt]).toEqual([false, null]);
    expect((await stripe().charges.list({ customer: row.customerId! })).data).toEqual([]);

    // Mirrored as any subscription is, with no user: 25 seats of $390 a year are 81,250 cents of MRR.
    const mirrored = (await db().select().from(subscriptions).where(eq(subscriptions.id, row.subscriptionId!)).get())!;
    expect([mirrored.userId, mirrored.tier, mirrored.quantity, mirrored.mrr, mirrored.status]).toEqual([null, "agency", 25, 81_250, "active"]);
    const audit = await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all();
    expect(audit.map((a) => a.action)).toEqual(["organization.created"]);

    const read = await call("GET", `/v1/organizations/${orgId}`, { key: analyst });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(org);
  });

  it("a 36-month term is one invoice of 36 months at 10 % off (105,300 cents a seat) and ends three years on", async () => {
    const clock = await testClock();
    const res = await create(agencyBody(newOrg(), { seats: 2, term_months: 36, po_number: undefined, tax_id: undefined, test_clock: clock.id }));
    expect(res.status).toBe(201);
    const org = await res.json<OrganizationWire>();
    expect(org.invoices.map((i) => i.amount_due)).toEqual([210_600]);
    expect(new Date(org.term.end).getUTCFullYear() - new Date(org.term.start).getUTCFullYear()).toBe(3);
    expect(org.po_number).toBeNull();
    expect((await stripe().invoices.retrieve(org.invoices[0]!.id)).custom_fields).toEqual([{ name: "Agency", value: "Office of Personnel Transition" }]);
  });

  it("the same org_id twice is a 409 naming org_id, and the second request makes nothing in Stripe", async () => {
    const orgId = newOrg();
    expect((await create(agencyBody(orgId, { seats: 1 }))).status).toBe(201);
    const customersBefore = (await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data.length;
    await expectProblem(await create(agencyBody(orgId, { seats: 3 })), 409, "conflict", "body.org_id");
    expect((await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data.length).toBe(customersBefore);
  });

  it("a purchase whose D1 write failed after Stripe made everything stays pending, and the retry finishes it with the same customer, subscription and invoice", async () => {
    const orgId = newOrg();
    // The D1 write that activates the row fails once, as a lost D1 request would; Stripe's objects are made by then.
    await env.DB.exec(
      `CREATE TRIGGER fail_${orgId} BEFORE UPDATE OF status ON organizations WHEN NEW.org_id = '${orgId}' AND NEW.status = 'active' BEGIN SELECT RAISE(ABORT, 'simulated D1 failure'); END`,
    );
    const failed = await create(agencyBody(orgId, { seats: 2 }));
    await env.DB.exec(`DROP TRIGGER fail_${orgId}`);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await db().select({ status: organizations.status }).from(organizations).where(eq(organizations.orgId, orgId)).get())?.status).toBe("pending");
    const made = (await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data;
    expect(made).toHaveLength(1);

    const retry = await create(agencyBody(orgId, { seats: 2 }));
    expect(retry.status, await retry.clone().text()).toBe(201);
    const org = await retry.json<OrganizationWire>();
    expect([org.status, org.seats, org.invoices.length]).toEqual(["active", 2, 1]);
    expect((await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data.map((c) => c.id)).toEqual([made[0]!.id]);
    expect((await stripe().subscriptions.list({ customer: made[0]!.id })).data).toHaveLength(1);
    expect((await call("GET", `/v1/organizations/${orgId}`, { key: service })).status).toBe(200);
  });

  it("the subscription is made ending at the term's end: its customer.subscription.created event already has cancel_at, so no failure after it can leave one that renews", async () => {
    const orgId = newOrg();
    expect((await create(agencyBody(orgId, { seats: 1 }))).status).toBe(201);
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    const born = (await eventsFor([row.subscriptionId!])).find((e) => e.type === "customer.subscription.created")!.data.object as Stripe.Subscription;
    expect(born.cancel_at).toBe(born.items.data[0]!.current_period_end);
    expect(born.cancel_at).toBe(row.termEnd! / 1000);
  });

  it("an address Stripe Tax cannot place (a ZIP code of another state) is a 400 naming address: no customer in Stripe, no row in D1, and the org_id stays free", async () => {
    const orgId = newOrg();
    const customers = async () => (await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data;
    const wrongZip = { line1: "1315 10th St", city: "Sacramento", state: "CA", postal_code: "20415", country: "US" };
    await expectProblem(await create(agencyBody(orgId, { address: wrongZip })), 400, "validation_failed", "body.address");
    expect(await db().select().from(organizations).where(eq(organizations.orgId, orgId)).all()).toEqual([]);
    expect(await customers()).toEqual([]);
    const res = await create(agencyBody(orgId, { address: { ...wrongZip, postal_code: "95814" } }));
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await customers()).toHaveLength(1);
  });

  it("a retry with the same Idempotency-Key answers the same organization and makes no second customer", async () => {
    const orgId = newOrg();
    const first = await create(agencyBody(orgId, { seats: 1 }), `idem-${orgId}`);
    const again = await create(agencyBody(orgId, { seats: 1 }), `idem-${orgId}`);
    expect([first.status, again.status, again.headers.get("idempotent-replayed")]).toEqual([201, 201, "true"]);
    expect(await again.json()).toEqual(await first.json());
    expect((await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data).toHaveLength(1);
  });

  it.each([
    ["an unknown term", { term_months: 18 }, "body.term_months"],
    ["no seats", { seats: 0 }, "body.seats"],
    ["more seats than the policy allows", { seats: 10_001 }, "body.seats"],
    ["more seats than one sync can re-derive the members of", { seats: 101 }, "body.seats"],
    ["a PO number over 30 characters", { po_number: "P".repeat(31) }, "body.po_number"],
    ["a US address without a ZIP code", { address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "DC", country: "US" } }, "body.address.postal_code"],
    ["a US address with no state", { address: { line1: "1900 E St NW", city: "Washington", state: "Columbia", postal_code: "20415", country: "US" } }, "body.address.state"],
    ["an address without a street", { address: { city: "Washington", state: "DC", postal_code: "20415", country: "US" } }, "body.address.line1"],
    ["a country that is no ISO code", { address: { line1: "1 Main St", city: "Ottawa", state: "ON", postal_code: "K1A 0A6", country: "Canada" } }, "body.address.country"],
    ["a malformed EIN", { tax_id: "123456789" }, "body.tax_id"],
    ["a malformed billing email", { billing_email: "not-an-email" }, "body.billing_email"],
  ])("%s is a 400 naming the field, and nothing is made in Stripe or D1", async (_what, change, field) => {
    const orgId = newOrg();
    const rows = await count("organizations");
    await expectProblem(await create(agencyBody(orgId, change)), 400, "validation_failed", field);
    expect(await count("organizations")).toBe(rows);
    expect((await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data).toEqual([]);
  });

  it("an analyst may read but not buy", async () => {
    const res = await call("POST", "/v1/organizations", { key: analyst, body: agencyBody(newOrg()) });
    expect(res.status).toBe(403);
  });

  it("an unknown organization is a 404 naming org_id", async () => {
    await expectProblem(await call("GET", "/v1/organizations/org_nobody", { key: analyst }), 404, "not_found", "path.org_id");
  });

  it("an organization's unpaid invoice opens no dunning case, even when a card payment on its page is declined", async () => {
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 1 }))).json<OrganizationWire>();
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    const invoiceId = org.invoices[0]!.id;
    const card = await stripe().paymentMethods.attach("pm_card_chargeDeclined", { customer: row.customerId! });
    await stripe()
      .invoices.pay(invoiceId, { payment_method: card.id })
      .catch(() => null);
    const events = await eventsFor([invoiceId]);
    expect(events.map((e) => e.type)).toContain("invoice.payment_failed");
    for (const e of events) {
      expect((await deliver(e)).status).toBe(200);
      expect(await settled(e.id)).toBe("processed");
    }
    // The failure is mirrored (the attempt is recorded) but collected on terms, not by dunning.
    expect(await db().select().from(paymentAttempts).where(eq(paymentAttempts.invoiceId, invoiceId)).all()).toHaveLength(1);
    expect(await db().select().from(dunningCases).where(eq(dunningCases.customerId, row.customerId!)).all()).toEqual([]);
  });
});

describe("POST /v1/organizations/{org_id}/invoices/{invoice_id}/payments", () => {
  const pay = (orgId: string, invoiceId: string, body: unknown) => call("POST", `/v1/organizations/${orgId}/invoices/${invoiceId}/payments`, { key: service, body });

  it("records an ACH payment made outside Stripe: the invoice is paid out of band, nothing is charged, and the audit log says who recorded it", async () => {
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 2 }))).json<OrganizationWire>();
    const invoiceId = org.invoices[0]!.id;
    const res = await pay(orgId, invoiceId, { method: "ach", reference: "ACH-TRACE-021000021" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ invoice_id: invoiceId, amount: 78_000, currency: "usd", method: "ach", reference: "ACH-TRACE-021000021" });
    const inv = await stripe().invoices.retrieve(invoiceId);
    expect([inv.status, inv.amount_remaining, inv.metadata?.payment_method, inv.metadata?.payment_reference]).toEqual(["paid", 0, "ach", "ACH-TRACE-021000021"]);
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    expect((await stripe().charges.list({ customer: row.customerId! })).data).toEqual([]);
    const audit = await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all();
    const recorded = audit.find((a) => a.action === "organization.payment_recorded")!;
    expect([recorded.actorType, JSON.parse(recorded.after!)]).toEqual(["api_key", { invoice: invoiceId, amount: 78_000, currency: "usd", method: "ach", reference: "ACH-TRACE-021000021" }]);
    const view = await (await call("GET", `/v1/organizations/${orgId}`, { key: analyst })).json<OrganizationWire>();
    expect(view.invoices.map((i) => i.status)).toEqual(["paid"]);

    await expectProblem(await pay(orgId, invoiceId, { method: "check", reference: "1001" }), 409, "conflict", "path.invoice_id");
  });

  it("a payment Stripe marked paid whose audit write failed: the same request again completes the audit, once, and answers the payment", async () => {
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 1 }))).json<OrganizationWire>();
    const invoiceId = org.invoices[0]!.id;
    // The batch with the mirror and the audit row fails once, as a lost D1 request would; Stripe has the invoice paid by then.
    await env.DB.exec(
      `CREATE TRIGGER fail_${orgId} BEFORE INSERT ON audit_log WHEN NEW.subject_id = '${orgId}' AND NEW.action = 'organization.payment_recorded' BEGIN SELECT RAISE(ABORT, 'simulated D1 failure'); END`,
    );
    const failed = await pay(orgId, invoiceId, { method: "treasury", reference: "IPAC-0001" });
    await env.DB.exec(`DROP TRIGGER fail_${orgId}`);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await stripe().invoices.retrieve(invoiceId)).status).toBe("paid");
    const recorded = async () => (await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all()).filter((a) => a.action === "organization.payment_recorded");
    expect(await recorded()).toHaveLength(0);

    for (let i = 0; i < 2; i++) {
      const retry = await pay(orgId, invoiceId, { method: "treasury", reference: "IPAC-0001" });
      expect(retry.status, await retry.clone().text()).toBe(201);
      expect(await retry.json()).toMatchObject({ invoice_id: invoiceId, amount: 39_000, method: "treasury", reference: "IPAC-0001" });
    }
    expect(await recorded()).toHaveLength(1);
    await expectProblem(await pay(orgId, invoiceId, { method: "ach", reference: "IPAC-0001" }), 409, "conflict", "path.invoice_id");
  });

  it("a run that noted the payment but failed before marking the invoice paid: once the agency pays by card on its page, the retry is a 409 and audits nothing", async () => {
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 1 }))).json<OrganizationWire>();
    const invoiceId = org.invoices[0]!.id;
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    // Stripe refuses the run's invoices.pay: its idempotency key (payments.ts) was used for another request already.
    await stripe().customers.create({ name: "taken key" }, { idempotencyKey: `organization-payment:${invoiceId}:ach:ACH-0002:pay` });
    expect((await pay(orgId, invoiceId, { method: "ach", reference: "ACH-0002" })).status).toBeGreaterThanOrEqual(500);
    expect((await stripe().invoices.retrieve(invoiceId)).metadata?.payment_reference).toBe("ACH-0002");
    const card = await stripe().paymentMethods.attach("pm_card_visa", { customer: row.customerId! });
    expect((await stripe().invoices.pay(invoiceId, { payment_method: card.id })).status).toBe("paid");

    await expectProblem(await pay(orgId, invoiceId, { method: "ach", reference: "ACH-0002" }), 409, "conflict", "path.invoice_id");
    expect((await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all()).map((a) => a.action)).not.toContain("organization.payment_recorded");
  });

  it("refuses another organization's invoice (404), an unknown method (400) and a reference over 100 characters (400)", async () => {
    const mine = await (await create(agencyBody(newOrg(), { seats: 1 }))).json<OrganizationWire>();
    const theirs = await (await create(agencyBody(newOrg(), { seats: 1 }))).json<OrganizationWire>();
    await expectProblem(await pay(mine.org_id, theirs.invoices[0]!.id, { method: "ach", reference: "x" }), 404, "not_found", "path.invoice_id");
    await expectProblem(await pay(mine.org_id, mine.invoices[0]!.id, { method: "wire", reference: "x" }), 400, "validation_failed", "body.method");
    await expectProblem(await pay(mine.org_id, mine.invoices[0]!.id, { method: "ach", reference: "r".repeat(101) }), 400, "validation_failed", "body.reference");
    expect((await stripe().invoices.retrieve(mine.invoices[0]!.id)).status).toBe("open");
  });
});

describe("POST /v1/organizations/{org_id}/seats", () => {
  const seats = (orgId: string, body: unknown) => call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body });

  it("five more seats on day 100 of 365: a prorated invoice on the same net terms that equals Stripe's preview to the cent; a stale expected amount changes nothing", async () => {
    const clock = await testClock();
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { test_clock: clock.id }))).json<OrganizationWire>();
    const start = Date.parse(org.term.start);
    await clock.advanceTo(start + 100 * DAY);
    // What Stripe would bill, asked independently at the same moment: 5 seats for 265 of 365 days.
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    const preview = await stripe().invoices.createPreview({
      customer: row.customerId!,
      subscription: sub.id,
      subscription_details: { items: [{ id: sub.items.data[0]!.id, quantity: 30 }], proration_behavior: "always_invoice", proration_date: Math.floor((start + 100 * DAY) / 1000) },
    });
    expect(preview.amount_due).toBe(Math.round((30 * 39000 * 265) / 365) - Math.round((25 * 39000 * 265) / 365));

    await expectProblem(await seats(orgId, { seats: 30, expected_amount_due_now: preview.amount_due + 1 }), 409, "amount_changed", "body.expected_amount_due_now");
    expect((await stripe().subscriptions.retrieve(sub.id)).items.data[0]!.quantity).toBe(25);

    const res = await seats(orgId, { seats: 30, expected_amount_due_now: preview.amount_due });
    expect(res.status, await res.clone().text()).toBe(200);
    const after = await res.json<{ seats: number; amount_due_now: number; invoice: { status: string; amount_due: number; due_date: string } }>();
    expect([after.seats, after.amount_due_now]).toEqual([30, preview.amount_due]);
    const added = after.invoice;
    expect([added.status, added.amount_due, added.due_date]).toEqual(["open", preview.amount_due, new Date(start + 130 * DAY).toISOString()]);
    expect((await stripe().charges.list({ customer: row.customerId! })).data).toEqual([]);
    const mirrored = (await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())!;
    expect([mirrored.quantity, mirrored.mrr]).toEqual([30, 97_500]);
  });

  it("fewer seats wait for the term's end (kept for the renewal), never below those assigned (409), the same number is a 422", async () => {
    const orgId = newOrg();
    await create(agencyBody(orgId, { seats: 3 }));
    for (const u of ["user_s1", "user_s2"]) expect((await call("PUT", `/v1/organizations/${orgId}/members/${u}_${orgId}`, { key: service })).status).toBe(200);
    await expectProblem(await seats(orgId, { seats: 3 }), 422, "no_change", "body.seats");
    await expectProblem(await seats(orgId, { seats: 1 }), 409, "conflict", "body.seats");
    const fewer = await seats(orgId, { seats: 2 });
    expect(fewer.status).toBe(200);
    expect(await fewer.json()).toMatchObject({ seats: 3, seats_next_term: 2, effective: "term_end", amount_due_now: 0, invoice: null });
    await expectProblem(await seats(orgId, { seats: 0 }), 400, "validation_failed", "body.seats");
  });
});

describe("organizations' reminders (the quarter-hour cron's job)", () => {
  const emailsTo = async (orgId: string) =>
    (await db().select({ key: emailOutbox.idempotencyKey, template: emailOutbox.template, to: emailOutbox.to }).from(emailOutbox).all()).filter((e) => e.key.startsWith(`organization:${orgId}:`));

  it("after an unpaid invoice's due date: a reminder on days 1, 15 and 30, each once, to the billing email; the seats stay on", async () => {
    const clock = await testClock();
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 1, test_clock: clock.id }))).json<OrganizationWire>();
    await call("PUT", `/v1/organizations/${orgId}/members/user_rem_${orgId}`, { key: service });
    const due = Date.parse(org.invoices[0]!.due_date!);
    await organizationReminders(svc());
    expect(await emailsTo(orgId)).toEqual([]);
    for (const [day, expected] of [
      [1, 1],
      [2, 1],
      [15, 2],
      [30, 3],
      [31, 3],
    ] as const) {
      await clock.advanceTo(due + day * DAY + 60_000);
      await organizationReminders(svc());
      await organizationReminders(svc());
      const sent = (await emailsTo(orgId)).filter((e) => e.template === "organization_invoice_overdue");
      expect(sent, `day ${day}`).toHaveLength(expected);
    }
    expect((await emailsTo(orgId)).map((e) => [e.key.split(":").slice(-1)[0], e.to])).toEqual(
      expect.arrayContaining([
        ["1", "ap@agency.example.gov"],
        ["15", "ap@agency.example.gov"],
        ["30", "ap@agency.example.gov"],
      ]),
    );
    const seat = await (await call("GET", `/v1/entitlements/user_rem_${orgId}`, { key: service })).json<{ tier: string; status: string }>();
    expect(seat).toMatchObject({ tier: "agency", status: "active" });
  });

  it("before the term ends: a renewal reminder 90, 60 and 30 days before, each once; a run that finds several due sends the latest", async () => {
    const clock = await testClock();
    const orgId = newOrg();
    const org = await (await create(agencyBody(orgId, { seats: 1, test_clock: clock.id }))).json<OrganizationWire>();
    await call("POST", `/v1/organizations/${orgId}/invoices/${org.invoices[0]!.id}/payments`, { key: service, body: { method: "treasury", reference: "IPAC-1" } });
    const end = Date.parse(org.term.end);
    const renewals = async () => (await emailsTo(orgId)).filter((e) => e.template === "organization_renewal_reminder").map((e) => e.key.split(":").slice(-1)[0]);
    await clock.advanceTo(end - 91 * DAY);
    await organizationReminders(svc());
    expect(await renewals()).toEqual([]);
    await clock.advanceTo(end - 89 * DAY);
    await organizationReminders(svc());
    await organizationReminders(svc());
    expect(await renewals()).toEqual(["90"]);
    await clock.advanceTo(end - 29 * DAY);
    await organizationReminders(svc());
    expect((await renewals()).sort()).toEqual(["30", "90"]);
  });
});
