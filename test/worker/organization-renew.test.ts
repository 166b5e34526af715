/**
 * An organization renews (POST /v1/organizations/{org_id}/renew): the next term from the current
 * term's end on the same subscription (no gap in the seats' access), invoiced when it starts on
 * net terms with the renewal's PO number, and ending by itself again. Stripe is the emulator
 * through the official client, on a test clock; D1 is real.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../worker/src/crypto";
import { auditLog, organizations } from "../../worker/src/db/schema";
import { call, makeKey } from "./helpers";
import { entitlementOf, expectProblem } from "./lifecycle-helpers";
import { buyOrganization, takeSeats } from "./organization-term-helpers";
import { db, deliverAll, stripe, testClock } from "./stripe-helpers";

let service: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
});

const DAY = 86_400_000;
const renew = (orgId: string, body: unknown, key = service) => call("POST", `/v1/organizations/${orgId}/renew`, { key, body });

/** The digest renew.ts names its Stripe idempotency keys with, for a request without Idempotency-Key renewing the term now running. */
async function renewalDigest(orgId: string, input: Record<string, unknown>, subscriptionId: string): Promise<string> {
  const term = (await stripe().subscriptions.retrieve(subscriptionId)).items.data[0]!.current_period_end;
  return sha256Hex(canonicalJson({ orgId, input, key: null, sub: subscriptionId, term }));
}

interface RenewalWire {
  org_id: string;
  next_term: { start: string; end: string; months: number; seats: number; po_number: string | null };
  invoice: { amount_due: number; currency: string; issued_at: string; due_date: string | null };
}

describe("POST /v1/organizations/{org_id}/renew", () => {
  it("the next term starts where the current one ends: its invoice comes then, on net terms with the new PO number, and the seats never lapse", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 10, test_clock: clock.id });
    await takeSeats(service, orgId, 2);
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });

    const res = await renew(orgId, { seats: 12, po_number: "PO-2027-0001" });
    expect(res.status, await res.clone().text()).toBe(200);
    const renewal = await res.json<RenewalWire>();
    const end = new Date(row.termEnd!);
    end.setUTCFullYear(end.getUTCFullYear() + 1);
    expect(renewal).toEqual({
      org_id: orgId,
      next_term: { start: org.term.end, end: end.toISOString(), months: 12, seats: 12, po_number: "PO-2027-0001" },
      invoice: { amount_due: 468_000, currency: "usd", issued_at: org.term.end, due_date: new Date(row.termEnd! + 30 * DAY).toISOString() },
    });
    await expectProblem(await renew(orgId, {}), 409, "conflict", "path.org_id");
    expect((await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all()).map((a) => a.action)).toContain("organization.renewed");

    // Past the first term's end: the same subscription runs on with 12 seats and a new invoice.
    await clock.advanceTo(row.termEnd! + 3_600_000);
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    expect([sub.status, sub.items.data[0]!.quantity, sub.cancel_at]).toEqual(["active", 12, Date.parse(renewal.next_term.end) / 1000]);
    const invoices = (await stripe().invoices.list({ customer: row.customerId! })).data;
    expect(invoices).toHaveLength(2);
    const next = invoices[0]!;
    expect([next.status, next.amount_due, next.collection_method, next.due_date]).toEqual(["open", 468_000, "send_invoice", (row.termEnd! + 30 * DAY) / 1000]);
    expect(next.custom_fields).toEqual([
      { name: "PO number", value: "PO-2027-0001" },
      { name: "Agency", value: "Office of Personnel Transition" },
    ]);
    await deliverAll({ customer: row.customerId!, sub: sub.id });
    expect(await entitlementOf(`${orgId}_user_0`)).toMatchObject({ tier: "agency", status: "active", orgId });
  });

  it("without seats named, the next term takes the fewer seats asked for it; below the seats assigned is a 409", async () => {
    const { orgId } = await buyOrganization(service, { seats: 10 });
    await takeSeats(service, orgId, 3);
    expect((await call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body: { seats: 6 } })).status).toBe(200);
    await expectProblem(await renew(orgId, { seats: 2 }), 409, "conflict", "body.seats");
    const renewal = await (await renew(orgId, { term_months: 24 })).json<RenewalWire>();
    // Six seats for 24 months at 74,100 cents each.
    expect([renewal.next_term.seats, renewal.next_term.months, renewal.invoice.amount_due]).toEqual([6, 24, 444_600]);
  });

  it("while the renewal is scheduled, more or fewer seats are a 409 renewal-scheduled and nothing changes; once the next term runs, its seats change", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 5, test_clock: clock.id });
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });
    expect((await renew(orgId, {})).status).toBe(200);
    const seats = (body: unknown) => call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body });
    await expectProblem(await seats({ seats: 7 }), 409, "renewal_scheduled", "body.seats");
    await expectProblem(await seats({ seats: 3 }), 409, "renewal_scheduled", "body.seats");
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    expect([sub.items.data[0]!.quantity, sub.metadata.seats_next_term]).toEqual([5, undefined]);

    await clock.advanceTo(row.termEnd! + 3_600_000);
    const more = await seats({ seats: 7 });
    expect(more.status, await more.clone().text()).toBe(200);
    expect((await stripe().subscriptions.retrieve(row.subscriptionId!)).items.data[0]!.quantity).toBe(7);
  });

  it("a renewal that fails before its phases are set keeps the fewer seats asked for the next term", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 10 });
    expect((await call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body: { seats: 6 } })).status).toBe(200);
    // Stripe refuses the renewal's phases update: its idempotency key (renew.ts) was used for another request already.
    const digest = await renewalDigest(orgId, {}, row.subscriptionId!);
    await stripe().customers.create({ name: "taken key" }, { idempotencyKey: `organization-renew:${orgId}:${digest}:phases` });
    expect((await renew(orgId, {})).status).toBeGreaterThanOrEqual(500);
    expect((await stripe().subscriptions.retrieve(row.subscriptionId!)).metadata.seats_next_term).toBe("6");
  });

  it("a renewed term renews again: the schedule of the term now running gets the term after it", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { seats: 2, test_clock: clock.id });
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });
    const first = await (await renew(orgId, {})).json<RenewalWire>();
    await clock.advanceTo(row.termEnd! + 3_600_000);

    // The same body as the first renewal, within Stripe's 24 hours of idempotency: another term, another request.
    const res = await renew(orgId, {});
    expect(res.status, await res.clone().text()).toBe(200);
    const second = await res.json<RenewalWire>();
    expect([second.next_term.start, second.next_term.seats]).toEqual([first.next_term.end, 2]);
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    const sched = await stripe().subscriptionSchedules.retrieve(sub.schedule as string);
    expect(sched.phases.at(-1)).toMatchObject({ start_date: Date.parse(first.next_term.end) / 1000, end_date: Date.parse(second.next_term.end) / 1000 });
  });

  it("a renewal that stopped after making its schedule, before setting its phases, is finished by the next request instead of refused", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 4 });
    // What a run that failed right after subscriptionSchedules.create leaves: a schedule of the current term only.
    const left = await stripe().subscriptionSchedules.create({ from_subscription: row.subscriptionId! });
    expect(left.phases).toHaveLength(1);

    const res = await renew(orgId, { po_number: "PO-2027-0044" });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await res.json<RenewalWire>()).next_term).toMatchObject({ start: new Date(row.termEnd!).toISOString(), seats: 4, po_number: "PO-2027-0044" });
    const sched = await stripe().subscriptionSchedules.retrieve(left.id);
    expect([sched.phases.length, sched.phases[1]?.items[0]?.quantity, sched.end_behavior]).toEqual([2, 4, "cancel"]);
    const renewed = async () => (await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all()).filter((a) => a.action === "organization.renewed");
    expect(await renewed()).toHaveLength(1);
    await expectProblem(await renew(orgId, { po_number: "PO-2027-0045" }), 409, "conflict", "path.org_id");
  });

  it("a renewal whose D1 write failed after Stripe's steps: the same request again completes it and audits it once; a third time answers the same renewal and writes nothing", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 3 });
    await env.DB.exec(`CREATE TRIGGER fail_${orgId} BEFORE UPDATE OF version ON organizations WHEN NEW.org_id = '${orgId}' BEGIN SELECT RAISE(ABORT, 'simulated D1 failure'); END`);
    const failed = await renew(orgId, { po_number: "PO-2027-0046" });
    await env.DB.exec(`DROP TRIGGER fail_${orgId}`);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const renewed = async () => (await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all()).filter((a) => a.action === "organization.renewed");
    expect(await renewed()).toHaveLength(0);

    const retry = await renew(orgId, { po_number: "PO-2027-0046" });
    expect(retry.status, await retry.clone().text()).toBe(200);
    const first = await retry.json<RenewalWire>();
    expect(first.next_term).toMatchObject({ start: new Date(row.termEnd!).toISOString(), seats: 3, po_number: "PO-2027-0046" });
    expect(await renewed()).toHaveLength(1);
    const again = await renew(orgId, { po_number: "PO-2027-0046" });
    expect(again.status).toBe(200);
    expect(await again.json<RenewalWire>()).toEqual(first);
    expect(await renewed()).toHaveLength(1);
  });

  it("the organization's version moves on from the row as written, not as read: a change made while the renewal talked to Stripe is not undone", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 2 });
    // Another write lands on the organization after the renewal read it: here, in the renewal's own batch, before its update.
    await env.DB.exec(
      `CREATE TRIGGER bump_${orgId} AFTER UPDATE ON subscriptions WHEN NEW.id = '${row.subscriptionId}' BEGIN UPDATE organizations SET version = version + 10 WHERE org_id = '${orgId}'; END`,
    );
    const res = await renew(orgId, {});
    await env.DB.exec(`DROP TRIGGER bump_${orgId}`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.version).toBe(row.version + 11);
  });

  it("the renewal's PO number is not on an invoice of the current term: after a renewal that failed before its schedule, added seats are invoiced with the current PO number", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 2 });
    // Stripe refuses the renewal's schedule: its idempotency key (renew.ts) was used for another request already.
    const digest = await renewalDigest(orgId, { poNumber: "PO-2027-0047" }, row.subscriptionId!);
    await stripe().customers.create({ name: "taken key" }, { idempotencyKey: `organization-renew:${orgId}:${digest}:schedule` });
    expect((await renew(orgId, { po_number: "PO-2027-0047" })).status).toBeGreaterThanOrEqual(500);

    const more = await call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body: { seats: 3 } });
    expect(more.status, await more.clone().text()).toBe(200);
    const inv = await stripe().invoices.retrieve((await more.json<{ invoice: { id: string } }>()).invoice.id);
    expect(inv.custom_fields).toEqual([
      { name: "PO number", value: "PO-2026-0042" },
      { name: "Agency", value: "Office of Personnel Transition" },
    ]);
  });

  it.each([
    ["an unknown term", { term_months: 18 }, "body.term_months"],
    ["no seats", { seats: 0 }, "body.seats"],
    ["a PO number over 30 characters", { po_number: "P".repeat(31) }, "body.po_number"],
  ])("%s is a 400 naming the field", async (_what, body, field) => {
    await expectProblem(await renew("org_any", body), 400, "validation_failed", field);
  });

  it("an unknown organization is a 404; an analyst may not renew", async () => {
    await expectProblem(await renew("org_nobody", {}), 404, "not_found", "path.org_id");
    expect((await renew("org_nobody", {}, (await makeKey("analyst")).key)).status).toBe(403);
  });
});
