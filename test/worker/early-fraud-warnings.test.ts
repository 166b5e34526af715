/**
 * Radar early fraud warnings: the mirror of each warning, and the policy for an actionable one
 * (fraud/): the charge refunded in full as a credit note, the subscription cancelled at once,
 * access ended, the customer's dunning, lifecycle and marketing email suppressed, audited, once.
 * Warnings are raised in the emulator as an issuer would (POST /_emulator/charges/:id/early_fraud_warning)
 * and reach the worker as signed webhooks.
 */
import { and, eq, gte, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { auditLog, earlyFraudWarnings, emailOutbox, emailSuppressions, entitlements, refunds, stripeEvents, subscriptions } from "../../worker/src/db/schema";
import { enqueueEmail, sendDueEmails } from "../../worker/src/email";
import { storeEvent } from "../../worker/src/stripe-sync/events";
import { processEvent } from "../../worker/src/stripe-sync/process";
import type { Stripe } from "../../worker/src/stripe-sync";
import { findTool } from "../../worker/src/tools";
import { call, makeKey, svc } from "./helpers";
import { makeKeys, paying, type Subscriber } from "./lifecycle-helpers";
import { db, deliver, eventsFor, settled, stripe, webhookEvent } from "./stripe-helpers";

beforeAll(async () => {
  await makeKeys();
});

/** A Mobile subscriber some days into a paid period (a cancellation at a trial's end would read as an expired trial). */
async function subscribed(): Promise<Subscriber> {
  const s = await paying("mobile");
  await s.clock.advanceDays(3);
  await s.sync();
  return s;
}

async function currentInvoice(s: Subscriber) {
  const invoice = await stripe().invoices.retrieve(String((await stripe().subscriptions.retrieve(s.sub)).latest_invoice));
  expect(invoice.status).toBe("paid");
  const payment = (await stripe().invoicePayments.list({ invoice: invoice.id })).data[0]!;
  const charge = String((await stripe().paymentIntents.retrieve(String(payment.payment.payment_intent))).latest_charge);
  return { invoice, charge };
}

/** The issuer's report, through the emulator's control. */
async function raiseWarning(charge: string, fraudType?: string): Promise<Stripe.Radar.EarlyFraudWarning> {
  const res = await fetch(`${inject("stripeApiBase")}/_emulator/charges/${charge}/early_fraud_warning`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fraudType ? { fraud_type: fraudType } : {}),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Stripe.Radar.EarlyFraudWarning;
}

/** Delivers, one at a time, every event about the subscriber's objects and these that it has not seen yet. */
async function deliverAbout(s: Subscriber, ids: string[]) {
  const more = async () => {
    const notes = (await stripe().creditNotes.list({ customer: s.customer, limit: 100 })).data.map((n) => n.id);
    const charges = (await stripe().charges.list({ customer: s.customer, limit: 100 })).data.map((c) => c.id);
    const refundIds: string[] = [];
    for (const c of charges) refundIds.push(...(await stripe().refunds.list({ charge: c, limit: 100 })).data.map((r) => r.id));
    const invoices = (await stripe().invoices.list({ customer: s.customer, limit: 100 })).data.map((i) => i.id);
    return [s.customer, s.sub, ...ids, ...notes, ...charges, ...refundIds, ...invoices];
  };
  // Processing one event makes Stripe send more (the refund, the cancellation): until none is new.
  for (let round = 0; round < 5; round++) {
    const fresh = (await eventsFor(await more())).filter((e) => !s.seen.has(e.id));
    if (fresh.length === 0) return;
    for (const e of fresh) {
      s.seen.add(e.id);
      expect((await deliver(e)).status).toBe(200);
      expect(await settled(e.id)).toBe("processed");
    }
  }
}

const warningRow = (id: string) => db().select().from(earlyFraudWarnings).where(eq(earlyFraudWarnings.id, id)).get();
const fraudAudits = (userId: string) =>
  db()
    .select({ after: auditLog.after })
    .from(auditLog)
    .where(and(eq(auditLog.action, "fraud_warning.actioned"), eq(auditLog.subjectId, userId)))
    .all();
/** What the customer has been or will be sent since `since`: anything in the outbox but suppressed. */
const emailsOut = (userId: string, since: number) =>
  db()
    .select({ template: emailOutbox.template, status: emailOutbox.status })
    .from(emailOutbox)
    .where(and(eq(emailOutbox.userId, userId), gte(emailOutbox.createdAt, since), inArray(emailOutbox.status, ["pending", "sending", "sent", "failed"])))
    .all();

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

describe("an actionable early fraud warning", () => {
  it("refunds the charge in full as a credit note, cancels the subscription, ends access, suppresses the customer's email and audits it", async () => {
    const s = await subscribed();
    const { invoice, charge } = await currentInvoice(s);
    const since = Date.now();
    const warning = await raiseWarning(charge);
    expect(warning.actionable).toBe(true);
    await deliverAbout(s, [warning.id, charge]);

    const notes = (await stripe().creditNotes.list({ invoice: invoice.id })).data;
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ amount: invoice.amount_paid, reason: "fraudulent", metadata: { early_fraud_warning: warning.id, end_access: "true" } });
    expect((await stripe().charges.retrieve(charge)).amount_refunded).toBe(invoice.amount_paid);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    // Stripe settles the warning once the charge is refunded in full.
    expect((await stripe().radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);

    const row = await warningRow(warning.id);
    expect(row).toMatchObject({
      chargeId: charge,
      invoiceId: invoice.id,
      subscriptionId: s.sub,
      userId: s.userId,
      fraudType: "made_with_stolen_card",
      actionable: false,
      amount: invoice.amount_paid,
      currency: "usd",
    });
    expect(row?.actionedAt).toEqual(expect.any(Number));
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, s.sub)).get())?.status).toBe("canceled");
    expect((await db().select().from(entitlements).where(eq(entitlements.userId, s.userId)).get())?.status).toBe("canceled");
    expect((await db().select().from(refunds).where(eq(refunds.userId, s.userId)).all()).map((r) => [r.amount, r.creditNoteId])).toEqual([[invoice.amount_paid, notes[0]!.id]]);

    const audits = await fraudAudits(s.userId);
    expect(audits.map((a) => JSON.parse(a.after!))).toEqual([
      {
        warning: warning.id,
        fraud_type: "made_with_stolen_card",
        charge,
        invoice: invoice.id,
        refunded: invoice.amount_paid,
        currency: "usd",
        credit_note: notes[0]!.id,
        refund: (await stripe().refunds.list({ charge })).data[0]!.id,
        subscription: s.sub,
        canceled: true,
        email_suppressed: ["dunning", "lifecycle", "marketing"],
      },
    ]);

    // Nothing went out to the customer; a dunning email enqueued later by anyone is held back by the sweep.
    expect(await emailsOut(s.userId, since)).toEqual([]);
    expect((await db().select({ category: emailSuppressions.category }).from(emailSuppressions).where(eq(emailSuppressions.userId, s.userId)).all()).map((r) => r.category).sort()).toEqual([
      "dunning",
      "lifecycle",
      "marketing",
    ]);
    const deps = svc();
    const amountDue = { amount: 4900, currency: "usd" };
    await enqueueEmail(deps, {
      key: `${s.userId}:efw_test_dunning`,
      to: `${s.userId}@example.test`,
      userId: s.userId,
      email: { template: "dunning_soft", plan: "Federal Job Advisor Mobile", amountDue, hasPaymentMethod: true, suspendAt: Date.now() + 86_400_000 },
    }).run();
    await sendDueEmails(deps, 100);
    expect(await emailsOut(s.userId, since)).toEqual([]);
    expect(
      (
        await db()
          .select({ status: emailOutbox.status })
          .from(emailOutbox)
          .where(eq(emailOutbox.idempotencyKey, `${s.userId}:efw_test_dunning`))
          .get()
      )?.status,
    ).toBe("suppressed");
  });

  it("is acted on once: a redelivered warning and Stripe's update change nothing more", async () => {
    const s = await subscribed();
    const { invoice, charge } = await currentInvoice(s);
    const warning = await raiseWarning(charge, "unauthorized_use_of_card");
    await deliverAbout(s, [warning.id, charge]);
    const actionedAt = (await warningRow(warning.id))?.actionedAt;
    expect(actionedAt).toEqual(expect.any(Number));
    // The same warning's created event, delivered again under another id (as a replay sends it).
    const created = (await eventsFor([warning.id])).find((e) => e.type === "radar.early_fraud_warning.created")!;
    const copy = { ...created, id: `${created.id}_again` };
    expect((await deliver(copy)).status).toBe(200);
    expect(await settled(copy.id)).toBe("processed");
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
    expect((await stripe().refunds.list({ charge })).data).toHaveLength(1);
    expect(await fraudAudits(s.userId)).toHaveLength(1);
    expect((await warningRow(warning.id))?.actionedAt).toBe(actionedAt);
  });

  it("a crash between the refund and the cancellation: the retry cancels and refunds nothing twice", async () => {
    const s = await subscribed();
    const { invoice, charge } = await currentInvoice(s);
    const warning = await raiseWarning(charge);
    const created = (await eventsFor([warning.id])).find((e) => e.type === "radar.early_fraud_warning.created")!;
    s.seen.add(created.id);
    const deps = svc();
    await storeEvent(deps.db, webhookEvent(created), Date.now());
    expect(await processEvent({ ...deps, stripe: cancelFails(deps.stripe) }, created.id)).toBe("retry");
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    expect((await warningRow(warning.id))?.actionedAt ?? null).toBeNull();
    // Stripe now says the warning is not actionable (the charge is refunded): the refund this warning made still says the job is unfinished.
    expect((await stripe().radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);
    // Its retry is due now rather than after the sweep's backoff.
    await db().update(stripeEvents).set({ leaseUntil: null, nextAttemptAt: Date.now() }).where(eq(stripeEvents.id, created.id));
    expect(await processEvent(svc(), created.id)).toBe("processed");
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
    expect((await stripe().refunds.list({ charge })).data).toHaveLength(1);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    expect((await warningRow(warning.id))?.actionedAt).toEqual(expect.any(Number));
    expect(await fraudAudits(s.userId)).toHaveLength(1);
  });
});

describe("process_webhook", () => {
  it("takes a warning by its id without the event's: Stripe's event about it runs the policy, once", async () => {
    const admin = (await makeKey("admin")).key;
    const s = await subscribed();
    const { invoice, charge } = await currentInvoice(s);
    const warning = await raiseWarning(charge);
    const run = async () => {
      const res = await call("POST", "/v1/tools/process_webhook", { key: admin, body: { type: "radar.early_fraud_warning.created", data: { object: { id: warning.id } } } });
      const body = await res.json<Record<string, unknown>>();
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(findTool("process_webhook")!.output.safeParse(body).success).toBe(true);
      return body as { fetched: string; outcome: string; object: { type: string; id: string }; changes: { action: string }[] };
    };
    const first = await run();
    expect(first).toMatchObject({ fetched: "object", outcome: "processed", object: { type: "radar.early_fraud_warning", id: warning.id } });
    expect(first.changes.map((c) => c.action)).toContain("fraud_warning.actioned");
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("canceled");
    const again = await run();
    expect(again.changes.map((c) => c.action)).not.toContain("fraud_warning.actioned");
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toHaveLength(1);
    // Without an event id, anything but a warning's id is refused for this type, naming the field.
    const wrong = await call("POST", "/v1/tools/process_webhook", { key: admin, body: { type: "radar.early_fraud_warning.created", data: { object: { id: charge } } } });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(["body.data.object.id"]);
  });
});

describe("a warning Stripe says is not actionable", () => {
  it("is mirrored and nothing else: no refund, no cancellation, no suppression, no audit of an action", async () => {
    const s = await subscribed();
    const { invoice, charge } = await currentInvoice(s);
    // Refunded in full in the dashboard, keeping access (the refund policy's override): the warning comes after.
    await stripe().refunds.create({ charge, metadata: { end_access: "false" } });
    await deliverAbout(s, [charge]);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    const warning = await raiseWarning(charge, "card_never_received");
    expect(warning.actionable).toBe(false);
    await deliverAbout(s, [warning.id]);
    expect(await warningRow(warning.id)).toMatchObject({ actionable: false, actionedAt: null, fraudType: "card_never_received", userId: s.userId, invoiceId: invoice.id });
    expect((await stripe().creditNotes.list({ invoice: invoice.id })).data).toEqual([]);
    expect((await stripe().refunds.list({ charge })).data).toHaveLength(1);
    expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
    expect(await fraudAudits(s.userId)).toEqual([]);
    expect(await db().select().from(emailSuppressions).where(eq(emailSuppressions.userId, s.userId)).all()).toEqual([]);
  });
});
