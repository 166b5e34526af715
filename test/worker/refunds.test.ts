/**
 * Refunds: POST /v1/refunds as a Stripe credit note with a refund, the refund policy's effect on
 * access, the mirror of refunds made in the Stripe dashboard (the emulator's API directly), and
 * what a refused refund leaves as it was. Subscribers come through the worker's Checkout on test
 * clocks of their own; Stripe's events reach the worker signed, one at a time.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { auditLog, creditNotes, entitlements, refunds, subscriptions } from "../../worker/src/db/schema";
import { createRefund } from "../../worker/src/refunds";
import type { Stripe } from "../../worker/src/stripe-sync";
import { call, count, makeKey, svc } from "./helpers";
import { expectProblem, makeKeys, paying, type Subscriber } from "./lifecycle-helpers";
import { db, deliver, eventsFor, settled, stripe } from "./stripe-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  await makeKeys();
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

interface RefundWire {
  id: string;
  invoice_id: string;
  amount: number;
  currency: string;
  credit_note_id: string | null;
  status: string;
  reason: string | null;
  created_at: string;
}

const refund = (body: unknown, key?: string) => call("POST", "/v1/refunds", { key: service, body, ...(key ? { headers: { "idempotency-key": key } } : {}) });

/**
 * A subscriber some days into their first paid period: a cancellation within a day of the trial's
 * end would read as an expired trial (entitlements/state.ts), which is not what a refund is about.
 */
async function subscribed(tier: "local" | "mobile"): Promise<Subscriber> {
  const s = await paying(tier);
  await s.clock.advanceDays(3);
  await s.sync();
  return s;
}

/** The subscriber's current period's invoice, paid, and the charge that paid it. */
async function currentInvoice(s: Subscriber) {
  const sub = await stripe().subscriptions.retrieve(s.sub);
  const invoice = await stripe().invoices.retrieve(String(sub.latest_invoice));
  expect(invoice.status).toBe("paid");
  const payment = (await stripe().invoicePayments.list({ invoice: invoice.id })).data[0]!;
  const pi = await stripe().paymentIntents.retrieve(String(payment.payment.payment_intent));
  return { invoice, charge: String(pi.latest_charge) };
}

/** Delivers, one at a time, every event about these objects the subscriber has not seen yet. */
async function deliverAbout(s: Subscriber, ids: string[]) {
  for (const e of await eventsFor([s.customer, s.sub, ...ids])) {
    if (s.seen.has(e.id)) continue;
    s.seen.add(e.id);
    expect((await deliver(e)).status).toBe(200);
    expect(await settled(e.id)).toBe("processed");
  }
}

const entitlementOf = (userId: string) => db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();
const mirroredSub = (id: string) => db().select().from(subscriptions).where(eq(subscriptions.id, id)).get();
const refundRows = (userId: string) => db().select().from(refunds).where(eq(refunds.userId, userId)).all();

/** The rule each `refund.requested` audit row of the user names, oldest first. */
async function requestedRules(userId: string) {
  const rows = await db()
    .select({ after: auditLog.after })
    .from(auditLog)
    .where(and(eq(auditLog.action, "refund.requested"), eq(auditLog.subjectId, userId)))
    .orderBy(auditLog.seq)
    .all();
  return rows.map((r) => (JSON.parse(r.after!) as { rule: string }).rule);
}

/** The real Stripe client, except that cancelling a subscription fails as a dropped connection would. */
function cancelFails(real: Stripe): Stripe {
  const subs = new Proxy(real.subscriptions, {
    get(target, prop) {
      if (prop === "cancel") return () => Promise.reject(new Error("connection reset while cancelling"));
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return new Proxy(real, { get: (target, prop) => (prop === "subscriptions" ? subs : Reflect.get(target, prop)) });
}

describe("POST /v1/refunds", () => {
  it("a full refund of the current period's invoice: one credit note with one refund, the subscription cancelled at once, access ended", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    expect((await mirroredSub(s.sub))?.mrr).toBe(4900);
    const res = await refund({ invoice_id: invoice.id, reason: "requested_by_customer" }, `full-${s.userId}`);
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await res.json<RefundWire>();
    expect(body).toMatchObject({ invoice_id: invoice.id, amount: invoice.amount_paid, currency: "usd", status: "succeeded", reason: "requested_by_customer" });
    expect(body.id).toMatch(/^re_/);
    const notes = (await stripe().creditNotes.list({ invoice: invoice.id })).data;
    expect(notes.map((n) => n.id)).toEqual([body.credit_note_id]);
    expect(notes[0]).toMatchObject({ amount: invoice.amount_paid, metadata: { refund_reason: "requested_by_customer", end_access: "true" } });
    expect((await stripe().refunds.list({ charge })).data.map((r) => r.id)).toEqual([body.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    // The answer came after the mirror, the entitlement and the audit log had it (MRR counts a cancelled subscription as none: the e2e test reads the report).
    expect((await mirroredSub(s.sub))?.status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
    expect((await refundRows(s.userId)).map((r) => ({ id: r.id, amount: r.amount, creditNoteId: r.creditNoteId, invoiceId: r.invoiceId }))).toEqual([
      { id: body.id, amount: invoice.amount_paid, creditNoteId: body.credit_note_id, invoiceId: invoice.id },
    ]);
    const actions = (
      await db()
        .select({ action: auditLog.action })
        .from(auditLog)
        .where(and(eq(auditLog.subjectType, "user"), eq(auditLog.subjectId, s.userId)))
        .all()
    ).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["refund.requested", "refund.access_ended"]));
    expect(await requestedRules(s.userId)).toEqual(["fullRefund.currentPeriod"]);
    const listed = await call("GET", `/v1/invoices?user_id=${s.userId}`, { key: analyst });
    const page = await listed.json<{ data: { id: string; amount_credited: number }[] }>();
    expect(page.data.find((i) => i.id === invoice.id)?.amount_credited).toBe(invoice.amount_paid);

    // Stripe's own events for it change nothing more: one refund, one credit note, one cancellation.
    const audited = await count("audit_log");
    await deliverAbout(s, [invoice.id, charge, body.id, body.credit_note_id!]);
    expect(await refundRows(s.userId)).toHaveLength(1);
    expect(await db().select().from(creditNotes).where(eq(creditNotes.invoiceId, invoice.id)).all()).toHaveLength(1);
    const after = (await db().select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.subjectId, s.userId)).all()).filter((a) => a.action === "refund.access_ended");
    expect(after).toHaveLength(1);
    expect(await count("audit_log")).toBeGreaterThanOrEqual(audited);
  });

  it("the same Idempotency-Key gives the first answer again and refunds once", async () => {
    const s = await subscribed("local");
    const { invoice, charge } = await currentInvoice(s);
    const first = await refund({ invoice_id: invoice.id, amount: 500, reason: "service_issue" }, `idem-${s.userId}`);
    expect(first.status).toBe(201);
    const again = await refund({ invoice_id: invoice.id, amount: 500, reason: "service_issue" }, `idem-${s.userId}`);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    expect((await stripe().refunds.list({ charge })).data).toHaveLength(1);
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
  });

  it("a failure after the credit note answers with the refund made, and a retry with the same Idempotency-Key makes no second one", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    const who = { type: "api_key" as const, id: "key_refund_retry", idempotencyKey: `retry-${s.userId}` };
    const input = { invoiceId: invoice.id, amount: 1500, reason: "service_issue" as const, endAccess: true };
    const deps = svc();
    const first = await createRefund({ ...deps, stripe: cancelFails(deps.stripe) }, who, input);
    expect(first).toMatchObject({ invoice_id: invoice.id, amount: 1500, currency: "usd" });
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    // A retry of the same request (a crash before the answer) gets the same credit note and finishes the job.
    const again = await createRefund(svc(), who, input);
    expect(again.credit_note_id).toBe(first.credit_note_id);
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
    expect((await stripe().refunds.list({ charge })).data).toHaveLength(1);
    expect((await stripe().charges.retrieve(charge)).amount_refunded).toBe(1500);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect(await requestedRules(s.userId)).toEqual(["end_access given"]);
  });

  it("a credit to the balance for part and a refund of the rest is a full refund: nothing stays paid, access ends", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    await stripe().creditNotes.create({ invoice: invoice.id, amount: 900, credit_amount: 900 });
    const res = await refund({ invoice_id: invoice.id, reason: "requested_by_customer" });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await res.json<RefundWire>()).amount).toBe(invoice.amount_paid - 900);
    expect((await stripe().charges.retrieve(charge)).amount_refunded).toBe(invoice.amount_paid - 900);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
    expect(await requestedRules(s.userId)).toEqual(["fullRefund.currentPeriod"]);
  });

  it("a partial refund keeps the subscription and access as they were", async () => {
    const s = await subscribed("mobile");
    const { invoice } = await currentInvoice(s);
    const res = await refund({ invoice_id: invoice.id, amount: 1000, reason: "duplicate" });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await res.json<RefundWire>()).amount).toBe(1000);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    expect(await mirroredSub(s.sub)).toMatchObject({ status: "active", mrr: 4900 });
    expect((await entitlementOf(s.userId))?.status).toBe("active");
    const list = await call("GET", `/v1/refunds?user_id=${s.userId}`, { key: analyst });
    expect(list.status).toBe(200);
    expect((await list.json<{ data: RefundWire[] }>()).data.map((r) => [r.amount, r.reason])).toEqual([[1000, "duplicate"]]);
    expect(await requestedRules(s.userId)).toEqual(["partialRefund"]);
  });

  it("end_access overrides the policy both ways", async () => {
    const kept = await subscribed("local");
    const full = await refund({ invoice_id: (await currentInvoice(kept)).invoice.id, reason: "requested_by_customer", end_access: false });
    expect(full.status, await full.clone().text()).toBe(201);
    expect((await stripe().subscriptions.retrieve(kept.sub)).status).toBe("active");
    const ended = await subscribed("local");
    const partial = await refund({ invoice_id: (await currentInvoice(ended)).invoice.id, amount: 100, reason: "fraudulent", end_access: true });
    expect(partial.status, await partial.clone().text()).toBe(201);
    expect((await stripe().subscriptions.retrieve(ended.sub)).status).toBe("canceled");
    expect((await entitlementOf(ended.userId))?.status).toBe("canceled");
  });

  it("more than was paid and not yet refunded is a 422 naming amount, and nothing changes", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    expect((await refund({ invoice_id: invoice.id, amount: 2000, reason: "requested_by_customer" })).status).toBe(201);
    const before = {
      audit: await count("audit_log"),
      refunds: await count("refunds"),
      notes: (await stripe().creditNotes.list({ invoice: invoice.id })).data.length,
      refunded: (await stripe().charges.retrieve(charge)).amount_refunded,
      sub: await mirroredSub(s.sub),
      entitlement: await entitlementOf(s.userId),
    };
    const problem = await expectProblem(await refund({ invoice_id: invoice.id, amount: invoice.amount_paid - 2000 + 1, reason: "requested_by_customer" }), 422, "refund_exceeds_paid", "body.amount");
    expect(problem.detail).toContain(String(invoice.amount_paid - 2000));
    expect({
      audit: await count("audit_log"),
      refunds: await count("refunds"),
      notes: (await stripe().creditNotes.list({ invoice: invoice.id })).data.length,
      refunded: (await stripe().charges.retrieve(charge)).amount_refunded,
      sub: await mirroredSub(s.sub),
      entitlement: await entitlementOf(s.userId),
    }).toEqual(before);
  });

  it("an invoice Stripe does not have is a 404 naming invoice_id", async () => {
    await expectProblem(await refund({ invoice_id: "in_doesnotexist", reason: "duplicate" }), 404, "not_found", "body.invoice_id");
  });
});

describe("a refund made in the Stripe dashboard", () => {
  it("is mirrored from its events and treated as the API treats one: a full refund of the current period ends access", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    const made = await stripe().refunds.create({ charge, reason: "requested_by_customer" });
    await deliverAbout(s, [invoice.id, charge, made.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await mirroredSub(s.sub))?.status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
    expect((await refundRows(s.userId)).map((r) => ({ id: r.id, amount: r.amount, reason: r.reason, creditNoteId: r.creditNoteId }))).toEqual([
      { id: made.id, amount: invoice.amount_paid, reason: "requested_by_customer", creditNoteId: null },
    ]);
    const ended = await db()
      .select({ actorType: auditLog.actorType })
      .from(auditLog)
      .where(and(eq(auditLog.action, "refund.access_ended"), eq(auditLog.subjectId, s.userId)))
      .all();
    expect(ended).toEqual([{ actorType: "stripe" }]);
  });

  it("completing an API partial refund in the dashboard is a full refund: the earlier refund's keep-access does not carry over", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    expect((await refund({ invoice_id: invoice.id, amount: 1000, reason: "service_issue" })).status).toBe(201);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    const rest = await stripe().refunds.create({ charge });
    expect(rest.amount).toBe(invoice.amount_paid - 1000);
    await deliverAbout(s, [invoice.id, charge, rest.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
    expect((await refundRows(s.userId)).map((r) => r.amount).sort((a, b) => a - b)).toEqual([1000, invoice.amount_paid - 1000].sort((a, b) => a - b));
  });

  it("a credit to the balance for part and a refund of the charge for the rest is a full refund: access ends", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    const note = await stripe().creditNotes.create({ invoice: invoice.id, amount: 900, credit_amount: 900 });
    const rest = await stripe().refunds.create({ charge, amount: invoice.amount_paid - 900 });
    await deliverAbout(s, [invoice.id, charge, note.id, rest.id]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await entitlementOf(s.userId))?.status).toBe("canceled");
  });

  it("a partial dashboard credit note is mirrored with its refund and leaves access", async () => {
    const s = await subscribed("local");
    const { invoice, charge } = await currentInvoice(s);
    const note = await stripe().creditNotes.create({ invoice: invoice.id, amount: 700, refund_amount: 700 });
    await deliverAbout(s, [invoice.id, charge, note.id, String(note.refunds[0]?.refund)]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    expect((await entitlementOf(s.userId))?.status).toBe("active");
    expect((await refundRows(s.userId)).map((r) => [r.amount, r.creditNoteId])).toEqual([[700, note.id]]);
  });
});

describe("the process_refund tool", () => {
  it("refunds as POST /v1/refunds does, and refuses more than is left with the same problem naming amount", async () => {
    const s = await subscribed("mobile");
    const { invoice, charge } = await currentInvoice(s);
    const res = await call("POST", "/v1/tools/process_refund", { key: service, body: { invoice_id: invoice.id, amount: 1200, reason: "service_issue" } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ invoice_id: invoice.id, amount: 1200, currency: "usd", status: "succeeded", reason: "service_issue" });
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    const refused = await call("POST", "/v1/tools/process_refund", { key: service, body: { invoice_id: invoice.id, amount: invoice.amount_paid, reason: "service_issue" } });
    expect(refused.status).toBe(422);
    const problem = await refused.json<{ code: string; errors: { field: string }[] }>();
    expect(problem.code).toBe("refund_exceeds_paid");
    expect(problem.errors.map((e) => e.field)).toContain("body.amount");
    expect((await stripe().charges.retrieve(charge)).amount_refunded).toBe(1200);
  });
});
