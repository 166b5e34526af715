/**
 * Issue 25's acceptance for an agency's term, against the system `npm start` runs: the worker in
 * workerd with its real queue and crons over HTTP, the emulator sending signed webhooks as its
 * test clocks move. Five more seats on day 100 of 365 cost Stripe's preview to the cent; that
 * invoice goes unpaid past its due date: reminders on days 1, 15 and 30 after it, each once, no
 * seat loses access; recording an ACH payment closes it. Renewal reminders at 90, 60 and 30 days;
 * the term ends without renewal: the seats end and MRR falls by the agency's share. With a
 * renewal: a new invoice for the next term and no gap in access.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;

let system: RunningSystem;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  system = await startSystem({ secretKey: "sk_test_agency_terms" });
  ({ worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

async function api(method: string, path: string, opts: { json?: unknown; key?: string } = {}): Promise<Response> {
  return worker.request(path, { method, key: opts.key ?? worker.serviceKey, ...(opts.json !== undefined ? { json: opts.json } : {}) });
}

async function ok<T>(res: Response, status = 200): Promise<T> {
  if (res.status !== status) throw new Error(`HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

interface Organization {
  org_id: string;
  seats: number;
  term: { start: string; end: string; months: number };
  status: string;
  invoices: { id: string; status: string; amount_due: number; due_date: string }[];
}

const buy = (orgId: string, seats: number, clock: string) =>
  api("POST", "/v1/organizations", {
    json: {
      org_id: orgId,
      name: "Office of Personnel Transition",
      billing_email: `ap@${orgId.replaceAll("_", "-")}.example.gov`,
      address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
      po_number: "PO-2026-0042",
      seats,
      term_months: 12,
      test_clock: clock,
    },
  });

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

/** The quarter-hour cron (the dunning tick and the organizations' reminders), to its end. */
async function tick() {
  await system.runCron("dunning");
  await system.settle();
}

async function emails(orgId: string, kind: "renewal" | "overdue") {
  const rows = await worker.db
    .prepare("select idempotency_key as key, template from email_outbox where idempotency_key like ? order by created_at, idempotency_key")
    .bind(`organization:${orgId}:${kind}:%`)
    .all<{ key: string; template: string }>();
  return rows.results.map((r) => r.key);
}

const allowed = async (userId: string) => (await ok<{ allowed: boolean }>(await api("POST", "/v1/entitlements/check", { json: { user_id: userId, feature: "mobile_app" } }))).allowed;
const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);
const mrr = async () =>
  (await ok<{ current: { mrr: number } }>(await api("GET", `/v1/analytics/report?period=monthly&from=${month(Date.now())}&to=${month(Date.now())}`, { key: worker.adminKey }))).current.mrr;

describe("an agency's term in the running system", () => {
  it("five more seats on day 100 are Stripe's preview to the cent; unpaid past due: reminders on days 1, 15, 30 each once, seats kept; an ACH payment closes it; renewal reminders at 90, 60, 30; the term ends without renewal: seats end, MRR falls by the agency's share", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const before = await mrr();
    const org = await ok<Organization>(await buy("org_terms", 25, clock.id), 201);
    const start = Date.parse(org.term.start);
    const end = Date.parse(org.term.end);
    await system.settle();
    await ok(await api("PUT", "/v1/organizations/org_terms/members/user_terms_1"));
    expect(await allowed("user_terms_1")).toBe(true);

    // The first invoice is paid by ACH on day 10.
    await advanceTo(clock.id, start + 10 * DAY);
    await ok(await api("POST", `/v1/organizations/org_terms/invoices/${org.invoices[0]!.id}/payments`, { json: { method: "ach", reference: "TRACE-0001" } }), 201);
    expect((await stripe.invoices.retrieve(org.invoices[0]!.id)).status).toBe("paid");

    // Day 100 of 365: Stripe's preview of 30 seats from now, and the change at that amount.
    await advanceTo(clock.id, start + 100 * DAY);
    const row = await worker.db.prepare("select subscription_id as sub from organizations where org_id = 'org_terms'").first<{ sub: string }>();
    const sub = await stripe.subscriptions.retrieve(row!.sub);
    const preview = await stripe.invoices.createPreview({
      subscription: sub.id,
      subscription_details: { items: [{ id: sub.items.data[0]!.id, quantity: 30 }], proration_behavior: "always_invoice", proration_date: Math.floor((start + 100 * DAY) / 1000) },
    });
    const change = await ok<{ seats: number; amount_due_now: number; invoice: { id: string; amount_due: number; due_date: string } }>(
      await api("POST", "/v1/organizations/org_terms/seats", { json: { seats: 30, expected_amount_due_now: preview.amount_due } }),
    );
    expect([change.seats, change.amount_due_now, change.invoice.amount_due]).toEqual([30, preview.amount_due, preview.amount_due]);
    expect((await stripe.invoices.retrieve(change.invoice.id)).total).toBe(preview.total);
    await system.settle();
    expect((await mrr()) - before).toBe(97_500);

    // Unpaid past its due date (day 130): reminders on days 1, 15 and 30 after it, each once.
    const due = Date.parse(change.invoice.due_date);
    const seen: number[] = [];
    for (const at of [due - HOUR, due + DAY + HOUR, due + 2 * DAY, due + 15 * DAY + HOUR, due + 30 * DAY + HOUR]) {
      await advanceTo(clock.id, at);
      await tick();
      await tick();
      seen.push((await emails("org_terms", "overdue")).length);
      expect(await allowed("user_terms_1"), `access on ${new Date(at).toISOString()}`).toBe(true);
    }
    expect(seen).toEqual([0, 1, 1, 2, 3]);
    expect(await emails("org_terms", "overdue")).toEqual([1, 15, 30].map((d) => `organization:org_terms:overdue:${change.invoice.id}:${d}`));
    const dunning = await worker.db
      .prepare("select count(*) as n from dunning_cases where customer_id = ?")
      .bind(sub.customer as string)
      .first<{ n: number }>();
    expect(dunning?.n).toBe(0);

    // Recording the ACH payment closes it: no more reminders.
    await ok(await api("POST", `/v1/organizations/org_terms/invoices/${change.invoice.id}/payments`, { json: { method: "ach", reference: "TRACE-0002" } }), 201);
    await system.settle();
    expect((await stripe.invoices.retrieve(change.invoice.id)).status).toBe("paid");

    // Renewal reminders at 90, 60 and 30 days before the end, each once.
    const renewalSeen: number[] = [];
    for (const at of [end - 90 * DAY + HOUR, end - 89 * DAY, end - 60 * DAY + HOUR, end - 30 * DAY + HOUR]) {
      await advanceTo(clock.id, at);
      await tick();
      renewalSeen.push((await emails("org_terms", "renewal")).length);
    }
    expect(renewalSeen).toEqual([1, 1, 2, 3]);
    expect(await emails("org_terms", "overdue")).toHaveLength(3);

    // The term ends without a renewal: the seat ends, and MRR is back where it was.
    await advanceTo(clock.id, end + HOUR);
    await tick();
    expect(await allowed("user_terms_1")).toBe(false);
    expect((await ok<Organization>(await api("GET", "/v1/organizations/org_terms"))).status).toBe("ended");
    expect(await mrr()).toBe(before);
  }, 300_000);

  it("renewed before the end: the next term's invoice on the same subscription with the new PO number, and no gap in access", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const org = await ok<Organization>(await buy("org_renews", 5, clock.id), 201);
    const end = Date.parse(org.term.end);
    await system.settle();
    await ok(await api("PUT", "/v1/organizations/org_renews/members/user_renews_1"));
    await ok(await api("POST", `/v1/organizations/org_renews/invoices/${org.invoices[0]!.id}/payments`, { json: { method: "treasury", reference: "IPP-77" } }), 201);
    const renewal = await ok<{ next_term: { start: string; end: string; seats: number }; invoice: { amount_due: number } }>(
      await api("POST", "/v1/organizations/org_renews/renew", { json: { po_number: "PO-2027-0007" } }),
    );
    expect([renewal.next_term.start, renewal.next_term.seats, renewal.invoice.amount_due]).toEqual([org.term.end, 5, 195_000]);
    await system.settle();

    for (const at of [end - 90 * DAY + HOUR, end - HOUR, end + HOUR]) {
      await advanceTo(clock.id, at);
      await tick();
      expect(await allowed("user_renews_1"), `access on ${new Date(at).toISOString()}`).toBe(true);
    }
    expect(await emails("org_renews", "renewal")).toEqual([]);
    const view = await ok<Organization>(await api("GET", "/v1/organizations/org_renews"));
    expect([view.status, view.term.start, view.term.end, view.seats]).toEqual(["active", org.term.end, renewal.next_term.end, 5]);
    const next = view.invoices[0]!;
    expect([view.invoices.length, next.status, next.amount_due, next.due_date]).toEqual([2, "open", 195_000, new Date(end + 30 * DAY).toISOString()]);
    expect((await stripe.invoices.retrieve(next.id)).custom_fields).toContainEqual({ name: "PO number", value: "PO-2027-0007" });
  }, 180_000);
});
