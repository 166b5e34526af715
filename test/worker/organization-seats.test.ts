/**
 * An organization's seats change (POST /v1/organizations/{org_id}/seats): more now on a prorated
 * invoice on net terms whose amount is Stripe's preview; fewer at the term's end, never below the
 * seats assigned. Stripe is the emulator through the official client; D1 is real.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, organizations, subscriptions } from "../../worker/src/db/schema";
import { changeSeats } from "../../worker/src/organizations";
import { gatedD1 } from "./gated-d1";
import { call, makeKey, svc, TEST_ACTOR } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";
import { buyOrganization, seatsPreviewOnDay, takeSeats } from "./organization-term-helpers";
import { db, stripe } from "./stripe-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

const DAY_S = 86_400;

interface SeatsChangeWire {
  org_id: string;
  seats: number;
  seats_next_term: number | null;
  effective: "now" | "term_end";
  amount_due_now: number;
  currency: string;
  invoice: { id: string; status: string; amount_due: number; due_date: string | null; hosted_invoice_url: string | null } | null;
}

const seats = (orgId: string, body: unknown, key = service) => call("POST", `/v1/organizations/${orgId}/seats`, { key, body });

describe("POST /v1/organizations/{org_id}/seats", () => {
  it("five more seats on day 100 of 365: a sent invoice on net terms for the rest of the term, equal to Stripe's preview to the cent", async () => {
    const { orgId, row, sub, now, preview } = await seatsPreviewOnDay(service, 100, 30);
    // 5 seats × 39,000 cents × 265 of 365 days left: 141,575.34, as Stripe rounds it.
    expect(preview.amount_due).toBe(141_575);

    const res = await seats(orgId, { seats: 30, expected_amount_due_now: preview.amount_due });
    expect(res.status, await res.clone().text()).toBe(200);
    const change = await res.json<SeatsChangeWire>();
    expect(change).toMatchObject({ org_id: orgId, seats: 30, seats_next_term: null, effective: "now", amount_due_now: preview.amount_due, currency: "usd" });
    expect(change.invoice).toMatchObject({ status: "open", amount_due: preview.amount_due, due_date: new Date((now + 30 * DAY_S) * 1000).toISOString() });

    const inv = await stripe().invoices.retrieve(change.invoice!.id);
    expect([inv.collection_method, inv.total, inv.attempted, inv.parent?.subscription_details?.subscription]).toEqual(["send_invoice", preview.total, false, sub.id]);
    expect(inv.custom_fields).toEqual([
      { name: "PO number", value: "PO-2026-0042" },
      { name: "Agency", value: "Office of Personnel Transition" },
    ]);
    expect((await stripe().charges.list({ customer: row.customerId! })).data).toEqual([]);
    expect((await stripe().subscriptions.retrieve(sub.id)).items.data[0]!.quantity).toBe(30);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats).toBe(30);
    // 30 seats of $390 a year in MRR.
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())!.mrr).toBe(97_500);
    const audit = await db().select().from(auditLog).where(eq(auditLog.subjectId, orgId)).all();
    expect(audit.map((a) => a.action)).toEqual(["organization.created", "organization.seats_added"]);

    const view = await (await call("GET", `/v1/organizations/${orgId}`, { key: analyst })).json<{ seats: number; invoices: { id: string }[] }>();
    expect([view.seats, view.invoices.map((i) => i.id)]).toEqual([30, [change.invoice!.id, expect.any(String)]]);
  });

  it("a confirmed amount Stripe's preview no longer gives is a 409 amount-changed with the fresh amount, and nothing changes", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 10 });
    const body = await expectProblem(await seats(orgId, { seats: 12, expected_amount_due_now: 1 }), 409, "amount_changed", "body.expected_amount_due_now");
    expect((body as unknown as { amount_due_now: number }).amount_due_now).toBeGreaterThan(1);
    expect((await stripe().subscriptions.retrieve(row.subscriptionId!)).items.data[0]!.quantity).toBe(10);
    expect((await stripe().invoices.list({ customer: row.customerId! })).data).toHaveLength(1);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats).toBe(10);
  });

  it("fewer seats take effect at the term's end: nothing is credited or invoiced now, and the next term's seats are kept on the subscription", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 10 });
    await takeSeats(service, orgId, 4);
    const res = await seats(orgId, { seats: 6 });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ org_id: orgId, seats: 10, seats_next_term: 6, effective: "term_end", amount_due_now: 0, currency: "usd", invoice: null });
    const sub = await stripe().subscriptions.retrieve(row.subscriptionId!);
    expect([sub.items.data[0]!.quantity, sub.metadata.seats_next_term]).toEqual([10, "6"]);
    expect((await stripe().invoices.list({ customer: row.customerId! })).data).toHaveLength(1);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats).toBe(10);

    // Back to ten: the lower count is dropped.
    expect(await (await seats(orgId, { seats: 10 })).json()).toMatchObject({ seats: 10, seats_next_term: null, effective: "now", invoice: null });
    expect((await stripe().subscriptions.retrieve(row.subscriptionId!)).metadata.seats_next_term).toBeUndefined();
  });

  it("fewer seats than are assigned is a 409 naming seats, and nothing changes", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 5 });
    await takeSeats(service, orgId, 4);
    await expectProblem(await seats(orgId, { seats: 3 }), 409, "conflict", "body.seats");
    expect((await stripe().subscriptions.retrieve(row.subscriptionId!)).metadata.seats_next_term).toBeUndefined();
  });

  it("the seats held already are a 422 no-change", async () => {
    const { orgId } = await buyOrganization(service, { seats: 5 });
    await expectProblem(await seats(orgId, { seats: 5 }), 422, "no_change", "body.seats");
  });

  it("more seats whose D1 write failed after Stripe's update: the retry is a 422 no-change that writes Stripe's seats to the organization, so the added seats can be assigned", async () => {
    const { orgId } = await buyOrganization(service, { seats: 2 });
    await takeSeats(service, orgId, 2);
    // The organization's seats update fails once, as a lost D1 request would; Stripe's quantity has changed by then.
    await env.DB.exec(`CREATE TRIGGER fail_${orgId} BEFORE UPDATE OF seats ON organizations WHEN NEW.org_id = '${orgId}' BEGIN SELECT RAISE(ABORT, 'simulated D1 failure'); END`);
    const failed = await seats(orgId, { seats: 3 });
    await env.DB.exec(`DROP TRIGGER fail_${orgId}`);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const stale = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    expect([stale.seats, (await stripe().subscriptions.retrieve(stale.subscriptionId!)).items.data[0]!.quantity]).toEqual([2, 3]);

    await expectProblem(await seats(orgId, { seats: 3 }), 422, "no_change", "body.seats");
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats).toBe(3);
    expect((await call("PUT", `/v1/organizations/${orgId}/members/user_third_${orgId}`, { key: service })).status).toBe(200);
  });

  it("two seat increases on separate D1 handles: the one whose write comes last, computed from an older row, does not overwrite the newer count; the row ends with Stripe's", async () => {
    const { orgId, row } = await buyOrganization(service, { seats: 2 });
    const quantity = async () => (await stripe().subscriptions.retrieve(row.subscriptionId!)).items.data[0]!.quantity;
    // The slow change (to 3 seats) is stopped at its first D1 query after Stripe's update.
    const gate = gatedD1(env.DB_RACE);
    const slow = changeSeats(svc(undefined, gate.d1), TEST_ACTOR, orgId, { seats: 3 });
    for (let allowed = 0; ; allowed++) {
      await gate.reached(allowed + 1);
      if ((await quantity()) === 3) break;
      gate.allow(1);
    }
    // Meanwhile another change reads Stripe's 3 seats, asks for 4 and is written in full.
    expect((await seats(orgId, { seats: 4 })).status).toBe(200);
    expect((await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats).toBe(4);

    gate.allow(Number.POSITIVE_INFINITY);
    await slow;
    expect([(await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!.seats, await quantity()]).toEqual([4, 4]);
    await takeSeats(service, orgId, 4);
  });

  it.each([
    ["no seats", { seats: 0 }, "body.seats"],
    ["more seats than the policy allows", { seats: 10_001 }, "body.seats"],
    ["a negative confirmed amount", { seats: 6, expected_amount_due_now: -1 }, "body.expected_amount_due_now"],
    ["an unknown field", { seats: 6, quantity: 6 }, "body.quantity"],
  ])("%s is a 400 naming the field", async (_what, body, field) => {
    await expectProblem(await seats("org_any", body), 400, "validation_failed", field);
  });

  it("an unknown organization is a 404 naming org_id; an analyst may not change seats", async () => {
    await expectProblem(await seats("org_nobody", { seats: 3 }), 404, "not_found", "path.org_id");
    expect((await seats("org_nobody", { seats: 3 }, analyst)).status).toBe(403);
  });
});
