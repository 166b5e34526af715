/**
 * Disputes: Stripe's dispute events mirrored into `disputes`, the dispute policy applied once per
 * dispute (a fraudulent or unrecognized one cancels the subscription at once and ends access, any
 * other keeps access and flags the account), won and lost recorded, and GET /v1/disputes. The
 * issuer's dispute comes from the emulator as Stripe's test mode makes it (the dispute card, or
 * its control for any reason); its events reach the worker signed, one at a time.
 */
import { env } from "cloudflare:workers";
import { and, eq, like } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, disputes, syncState } from "../../worker/src/db/schema";
import { resyncChunk } from "../../worker/src/stripe-sync/resync";
import { storeEvent } from "../../worker/src/stripe-sync/events";
import { processEvent } from "../../worker/src/stripe-sync/process";
import { decideDispute, disputePolicy } from "../../worker/src/disputes";
import type { Stripe } from "../../worker/src/stripe-sync";
import { call, makeKey, svc } from "./helpers";
import { entitlementOf, expectProblem, makeKeys, paying, trialing, type Subscriber } from "./lifecycle-helpers";
import { db, deliver, eventsFor, settled, stripe, webhookEvent } from "./stripe-helpers";

let service: string;
let analyst: string;
let admin: string;
beforeAll(async () => {
  await makeKeys();
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
  admin = (await makeKey("admin")).key;
});

interface DisputeWire {
  id: string;
  charge_id: string;
  invoice_id: string | null;
  user_id: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: string;
  evidence_due_by: string | null;
  fee: number;
  created_at: string;
  closed_at: string | null;
}

/** A subscriber some days into their first paid period (a cancellation within a day of the trial's end reads as an expired trial). */
async function subscribed(tier: "local" | "mobile"): Promise<Subscriber> {
  const s = await paying(tier);
  await s.clock.advanceDays(3);
  await s.sync();
  return s;
}

/** The charge that paid the subscriber's current invoice. */
async function currentCharge(s: Subscriber) {
  const sub = await stripe().subscriptions.retrieve(s.sub);
  const invoice = await stripe().invoices.retrieve(String(sub.latest_invoice));
  const payment = (await stripe().invoicePayments.list({ invoice: invoice.id })).data[0]!;
  const pi = await stripe().paymentIntents.retrieve(String(payment.payment.payment_intent));
  return { invoice, charge: String(pi.latest_charge) };
}

/** The issuer disputes the charge (the emulator's control, as a dispute test card would). */
async function disputed(charge: string, reason: string): Promise<Stripe.Dispute> {
  const res = await fetch(`${env.STRIPE_API_BASE}/_emulator/charges/${charge}/dispute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<Stripe.Dispute>();
}

/** The issuer asks about the charge (an inquiry: a `warning_*` dispute). */
async function inquired(charge: string): Promise<Stripe.Dispute> {
  const res = await fetch(`${env.STRIPE_API_BASE}/_emulator/charges/${charge}/dispute`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: "general", inquiry: true }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<Stripe.Dispute>();
}

/** Delivers, one at a time, each event about these objects not delivered yet; with `again`, every one of them again. */
async function deliverAbout(s: Subscriber, ids: string[], again = false) {
  for (const e of await eventsFor([s.customer, s.sub, ...ids])) {
    if (s.seen.has(e.id) && !again) continue;
    s.seen.add(e.id);
    expect((await deliver(e)).status).toBe(200);
    expect(await settled(e.id)).toBe("processed");
  }
}

const row = (id: string) => db().select().from(disputes).where(eq(disputes.id, id)).get();

/** The audit rows of the policy's decisions on a user, oldest first: action and rule. */
async function decisions(userId: string) {
  const rows = await db()
    .select({ action: auditLog.action, after: auditLog.after })
    .from(auditLog)
    .where(and(like(auditLog.action, "dispute.%"), eq(auditLog.subjectType, "user"), eq(auditLog.subjectId, userId)))
    .orderBy(auditLog.seq)
    .all();
  return rows.map((r) => ({ action: r.action, rule: (JSON.parse(r.after!) as { rule: string }).rule }));
}

const flagsOf = async (userId: string) =>
  (await (await call("GET", `/v1/entitlements/${userId}`, { key: service })).json<{ status: string; flags: { type: string; dispute_id: string; reason: string; status: string }[] }>()).flags;

describe("the dispute policy", () => {
  it("as data: fraudulent and unrecognized end access, every other reason flags the account", () => {
    expect(decideDispute(disputePolicy, "fraudulent")).toEqual({ action: "end_access", rule: "byReason.fraudulent" });
    expect(decideDispute(disputePolicy, "unrecognized")).toEqual({ action: "end_access", rule: "byReason.unrecognized" });
    for (const reason of ["product_not_received", "general", "duplicate", "subscription_canceled", "a_reason_stripe_adds_later", "constructor", "toString"]) {
      expect(decideDispute(disputePolicy, reason)).toEqual({ action: "flag_account", rule: "otherReasons" });
    }
    expect(decideDispute({ byReason: { general: "end_access" }, otherReasons: "flag_account" }, "general")).toEqual({ action: "end_access", rule: "byReason.general" });
  });
});

describe("disputes from Stripe", () => {
  it("a fraudulent dispute is mirrored, cancels the subscription at once and ends access, audited once with its rule", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentCharge(s);
    const dispute = await disputed(charge, "fraudulent");
    await deliverAbout(s, [dispute.id, invoice.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
    expect((await stripe().disputes.retrieve(dispute.id)).metadata).toEqual({ access_policy: "end_access", policy_rule: "byReason.fraudulent" });
    expect(await row(dispute.id)).toMatchObject({
      chargeId: charge,
      invoiceId: invoice.id,
      subscriptionId: s.sub,
      customerId: s.customer,
      userId: s.userId,
      amount: invoice.amount_paid,
      currency: "usd",
      reason: "fraudulent",
      status: "needs_response",
      fee: 1500,
      evidenceDueBy: dispute.evidence_details.due_by! * 1000,
      evidenceSubmitted: false,
      policyAction: "end_access",
      createdAt: dispute.created * 1000,
      closedAt: null,
    });
    expect(await decisions(s.userId)).toEqual([{ action: "dispute.access_ended", rule: "byReason.fraudulent" }]);
    expect(await flagsOf(s.userId)).toEqual([]);

    // Every event delivered again (as Stripe redelivers, and the decision's own charge.dispute.updated): nothing more.
    const before = await row(dispute.id);
    const audited = (await db().select({ seq: auditLog.seq }).from(auditLog).all()).length;
    await deliverAbout(s, [dispute.id, invoice.id], true);
    expect(await row(dispute.id)).toMatchObject({ ...before, syncedAt: expect.any(Number) });
    expect(await decisions(s.userId)).toHaveLength(1);
    expect((await db().select({ seq: auditLog.seq }).from(auditLog).where(eq(auditLog.subjectId, dispute.id)).all()).length).toBe(1);
    expect((await db().select({ seq: auditLog.seq }).from(auditLog).all()).length).toBe(audited);
  });

  it("two events of one dispute processed at once: one cancellation, one decision audited", async () => {
    const s = await subscribed("mobile");
    const { charge } = await currentCharge(s);
    const dispute = await disputed(charge, "unrecognized");
    const events = (await eventsFor([dispute.id])).filter((e) => e.type === "charge.dispute.created" || e.type === "charge.dispute.funds_withdrawn");
    expect(events).toHaveLength(2);
    for (const e of events) await storeEvent(db(), webhookEvent(e), Date.now());
    // A write that lost the race to the other isolate answers "retry", as the queue would redeliver it.
    const outcomes = await Promise.all(events.map((e) => processEvent(svc(), e.id)));
    for (const [i, outcome] of outcomes.entries()) if (outcome === "retry") outcomes[i] = await processEvent(svc(), events[i]!.id);
    expect(outcomes).toEqual(["processed", "processed"]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect(await decisions(s.userId)).toEqual([{ action: "dispute.access_ended", rule: "byReason.unrecognized" }]);
    expect(await row(dispute.id)).toMatchObject({ policyAction: "end_access", subscriptionId: s.sub });
  });

  it("the dispute card at the first charge after the trial: disputed, cancelled, no access", async () => {
    const s = await trialing("mobile", { card: "pm_card_createDispute" });
    await s.clock.advanceDays(s.trialDays + 0.1);
    await s.sync();
    const { charge } = await currentCharge(s);
    const [dispute] = (await stripe().disputes.list({ charge })).data;
    expect(dispute).toMatchObject({ reason: "fraudulent", status: "needs_response" });
    await deliverAbout(s, [dispute!.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect(await row(dispute!.id)).toMatchObject({ userId: s.userId, policyAction: "end_access", fee: 1500 });
    // Cancelled within a day of the trial's end: the entitlement says the trial was never converted; either way no access.
    expect(["canceled", "trial_expired"]).toContain((await entitlementOf(s.userId))?.status);
  });

  it("a dispute for another reason keeps access and flags the account until it is won", async () => {
    const s = await subscribed("local");
    const { invoice, charge } = await currentCharge(s);
    const dispute = await disputed(charge, "product_not_received");
    await deliverAbout(s, [dispute.id, invoice.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    expect((await entitlementOf(s.userId))?.status).toBe("active");
    expect(await row(dispute.id)).toMatchObject({ reason: "product_not_received", policyAction: "flag_account", status: "needs_response" });
    expect(await decisions(s.userId)).toEqual([{ action: "dispute.account_flagged", rule: "otherReasons" }]);
    expect(await flagsOf(s.userId)).toEqual([
      { type: "dispute", dispute_id: dispute.id, reason: "product_not_received", status: "needs_response", since: new Date(dispute.created * 1000).toISOString() },
    ]);

    // Won with the test mode's winning evidence: closed, the fee given back, the flag lifted, access as it was.
    await stripe().disputes.update(dispute.id, { evidence: { uncategorized_text: "winning_evidence" }, submit: true });
    await deliverAbout(s, [dispute.id]);
    const closed = (await stripe().events.list({ type: "charge.dispute.closed", limit: 10 })).data.find((e) => (e.data.object as Stripe.Dispute).id === dispute.id)!;
    expect(await row(dispute.id)).toMatchObject({ status: "won", fee: 0, evidenceSubmitted: true, closedAt: closed.created * 1000 });
    expect(await flagsOf(s.userId)).toEqual([]);
    expect((await entitlementOf(s.userId))?.status).toBe("active");
  });

  it("lost: closed_at recorded once, the fee kept", async () => {
    const s = await subscribed("local");
    const { charge } = await currentCharge(s);
    const dispute = await disputed(charge, "duplicate");
    await deliverAbout(s, [dispute.id]);
    await stripe().disputes.close(dispute.id);
    await deliverAbout(s, [dispute.id]);
    const lost = await row(dispute.id);
    expect(lost).toMatchObject({ status: "lost", fee: 1500 });
    expect(lost?.closedAt).toBe((await stripe().disputes.retrieve(dispute.id)).created * 1000);
    await s.clock.advanceDays(1);
    await deliverAbout(s, [dispute.id], true);
    expect((await row(dispute.id))?.closedAt).toBe(lost?.closedAt);
    // Lost is not won: the flag stays.
    expect((await flagsOf(s.userId)).map((f) => f.status)).toEqual(["lost"]);
  });

  it("a dispute closed before its created event is processed: closed_at is the close event's time, not the opening's nor the sync's", async () => {
    const s = await subscribed("local");
    const { charge } = await currentCharge(s);
    const dispute = await disputed(charge, "duplicate");
    await s.clock.advanceDays(2);
    await stripe().disputes.close(dispute.id);
    await s.clock.advanceDays(3);
    const events = await eventsFor([dispute.id]);
    const closed = events.find((e) => e.type === "charge.dispute.closed")!;
    expect(closed.created).toBeGreaterThan(dispute.created);
    // The queue is late: the events before the close are processed after it, then the close itself.
    for (const e of [...events.filter((e) => e !== closed), closed]) {
      s.seen.add(e.id);
      expect((await deliver(e)).status).toBe(200);
      expect(await settled(e.id)).toBe("processed");
      if (e.type === "charge.dispute.created") expect((await row(dispute.id))?.closedAt).toBe((await stripe().testHelpers.testClocks.retrieve(s.clock.id)).frozen_time * 1000);
    }
    expect((await row(dispute.id))?.closedAt).toBe(closed.created * 1000);
    // Redelivered afterwards, the earlier events keep the close's time.
    await deliverAbout(s, [dispute.id], true);
    expect((await row(dispute.id))?.closedAt).toBe(closed.created * 1000);
  });

  it("an inquiry closed in the merchant's favour (warning_closed) is closed: closed_at set, the flag lifted", async () => {
    const s = await subscribed("local");
    const { charge } = await currentCharge(s);
    const dispute = await inquired(charge);
    expect(dispute.status).toBe("warning_needs_response");
    await deliverAbout(s, [dispute.id]);
    expect(await row(dispute.id)).toMatchObject({ status: "warning_needs_response", closedAt: null });
    await stripe().disputes.update(dispute.id, { evidence: { uncategorized_text: "winning_evidence" }, submit: true });
    await deliverAbout(s, [dispute.id]);
    const closed = (await eventsFor([dispute.id])).find((e) => e.type === "charge.dispute.closed")!;
    expect(await row(dispute.id)).toMatchObject({ status: "warning_closed", closedAt: closed.created * 1000 });
    expect(await flagsOf(s.userId)).toEqual([]);
  });
});

describe("resync", () => {
  it("rebuilds a wiped dispute row from Stripe, its decision included, without deciding again", async () => {
    const s = await subscribed("local");
    const { charge } = await currentCharge(s);
    const dispute = await disputed(charge, "general");
    await deliverAbout(s, [dispute.id]);
    const { syncedAt: _s, ...before } = (await row(dispute.id))!;
    expect(before).toMatchObject({ policyAction: "flag_account", userId: s.userId });
    const decided = await decisions(s.userId);
    await db().delete(disputes).where(eq(disputes.id, dispute.id));
    // Only the disputes phase, from the start: the phases before it rebuild what other tests own too.
    const now = Date.now();
    const state = { phase: "disputes", cursor: null, started_at: now, finished_at: null, counts: { customers: 0, subscriptions: 0, invoices: 0, refunds: 0, disputes: 0 } };
    await db()
      .insert(syncState)
      .values({ key: "resync", value: JSON.stringify(state), updatedAt: now })
      .onConflictDoUpdate({ target: syncState.key, set: { value: JSON.stringify(state), updatedAt: now } });
    let progress = await resyncChunk(svc(), 5);
    for (let i = 0; progress?.phase !== "done" && i < 20; i++) progress = await resyncChunk(svc(), 5);
    expect(progress).toMatchObject({ phase: "done" });
    expect(progress!.counts.disputes).toBeGreaterThanOrEqual(1);
    const { syncedAt: _r, ...rebuilt } = (await row(dispute.id))!;
    expect(rebuilt).toEqual(before);
    expect(await decisions(s.userId)).toEqual(decided);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
  });
});

describe("process_webhook", () => {
  it("takes a dispute event by its object alone: Stripe's event runs through the pipeline, the policy decides", async () => {
    const s = await subscribed("mobile");
    const { charge } = await currentCharge(s);
    const dispute = await disputed(charge, "fraudulent");
    const res = await call("POST", "/v1/tools/process_webhook", { key: admin, body: { type: "charge.dispute.created", data: { object: { id: dispute.id, object: "dispute", reason: "general" } } } });
    expect(res.status, await res.clone().text()).toBe(200);
    const out = await res.json<{ fetched: string; outcome: string; object: { type: string; id: string }; changes: { action: string }[]; disagreements: { field: string }[] }>();
    expect(out).toMatchObject({ fetched: "object", outcome: "processed", object: { type: "dispute", id: dispute.id } });
    expect(out.changes.map((c) => c.action)).toEqual(expect.arrayContaining(["dispute.created", "dispute.access_ended"]));
    expect(out.disagreements.map((d) => d.field)).toEqual(["data.object.reason"]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect(await row(dispute.id)).toMatchObject({ policyAction: "end_access", userId: s.userId });
  });
});

describe("GET /v1/disputes", () => {
  it("lists disputes newest first with status and reason filters, paginated, times as RFC 3339", async () => {
    const s = await subscribed("mobile");
    const { charge, invoice } = await currentCharge(s);
    const dispute = await disputed(charge, "unrecognized");
    await deliverAbout(s, [dispute.id]);
    const res = await call("GET", `/v1/disputes?user_id=${s.userId}`, { key: analyst });
    expect(res.status, await res.clone().text()).toBe(200);
    const page = await res.json<{ data: DisputeWire[]; has_more: boolean }>();
    expect(page).toEqual({
      data: [
        {
          id: dispute.id,
          charge_id: charge,
          invoice_id: invoice.id,
          user_id: s.userId,
          amount: invoice.amount_paid,
          currency: "usd",
          reason: "unrecognized",
          status: "needs_response",
          evidence_due_by: new Date(dispute.evidence_details.due_by! * 1000).toISOString(),
          fee: 1500,
          created_at: new Date(dispute.created * 1000).toISOString(),
          closed_at: null,
        },
      ],
      has_more: false,
    });
    const filtered = async (q: string) => (await (await call("GET", `/v1/disputes?${q}`, { key: service })).json<{ data: DisputeWire[] }>()).data.map((d) => d.id);
    expect(await filtered(`reason=unrecognized&status=needs_response&limit=100`)).toContain(dispute.id);
    expect(await filtered(`reason=fraudulent&limit=100`)).not.toContain(dispute.id);
    expect(await filtered(`status=won&limit=100`)).not.toContain(dispute.id);
    // Pages: one at a time, newest first, none repeated.
    const first = await (await call("GET", "/v1/disputes?limit=1", { key: analyst })).json<{ data: DisputeWire[]; has_more: boolean }>();
    expect(first.data).toHaveLength(1);
    const second = await (await call("GET", `/v1/disputes?limit=1&starting_after=${first.data[0]!.id}`, { key: analyst })).json<{ data: DisputeWire[] }>();
    if (first.has_more) expect(second.data[0]!.id).not.toBe(first.data[0]!.id);
  });

  it("bad input is a problem naming the field; a cursor outside the filter too", async () => {
    await expectProblem(await call("GET", "/v1/disputes?status=open", { key: analyst }), 400, "validation_failed", "query.status");
    await expectProblem(await call("GET", "/v1/disputes?reason=angry", { key: analyst }), 400, "validation_failed", "query.reason");
    await expectProblem(await call("GET", "/v1/disputes?limit=0", { key: analyst }), 400, "validation_failed", "query.limit");
    await expectProblem(await call("GET", "/v1/disputes?starting_after=dp_nope", { key: analyst }), 400, "validation_failed", "query.starting_after");
    expect((await call("GET", "/v1/disputes")).status).toBe(401);
  });
});
