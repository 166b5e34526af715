import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { EVENTS_DLQ, EVENTS_QUEUE, retryDelaySeconds, type EventMessage } from "../../worker/src/stripe-sync/ingest";
import { entitlements, stripeEvents, subscriptions } from "../../worker/src/db/schema";
import worker from "../../worker/src/index";
import { BACKOFF_MS, storeEvent } from "../../worker/src/stripe-sync/events";
import { needsProcessing, processEvent, processTogether, syncsOnly } from "../../worker/src/stripe-sync/process";
import type Stripe from "stripe";
import { svc } from "./helpers";
import { db, eventsFor, stripe, stripeEvent, subscriber, webhookEvent } from "./stripe-helpers";

let seq = 0;
function message(overrides: Partial<Record<string, unknown>> = {}, body: Partial<EventMessage> = {}) {
  const id = `evt_q_${Date.now()}_${++seq}`;
  const event = {
    ...stripeEvent(id, "charge.succeeded", { id: `ch_${seq}`, object: "charge" }),
    ...overrides,
  };
  const payload = JSON.stringify(event);
  return {
    id: `msg_${seq}`,
    timestamp: Date.now(),
    attempts: 1,
    body: { id, type: "charge.succeeded", created: event.created as number, payload, received_at: Date.now() - 5000, ...body } satisfies EventMessage,
  };
}

/** Queue messages carrying Stripe's events as the webhook route sends them. */
function asMessages(events: Stripe.Event[], tag: string) {
  return events.map((e, i) => ({
    id: `msg_${tag}_${i}`,
    timestamp: Date.now(),
    attempts: 1,
    body: { id: e.id, type: e.type, created: e.created, payload: JSON.stringify(e), received_at: Date.now() } satisfies EventMessage,
  }));
}

async function consume(queue: string, messages: ReturnType<typeof message>[], vars: Record<string, string> = {}) {
  const batch = createMessageBatch<EventMessage>(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue!(batch as MessageBatch, { ...env, ...vars }, ctx);
  return getQueueResult(batch, ctx);
}

const rows = (ids: string[]) => db().select().from(stripeEvents).where(inArray(stripeEvents.id, ids)).all();

describe("queue consumer", () => {
  it("stores a batch once, acks every message, and leaves a duplicate unchanged", async () => {
    const old = message();
    expect((await consume(EVENTS_QUEUE, [old])).explicitAcks).toEqual([old.id]);
    const [before] = await rows([old.body.id]);
    expect(before).toMatchObject({ status: "processed", source: "webhook", receivedAt: old.body.received_at, payload: old.body.payload });

    const fresh = message();
    const again = { ...fresh, id: "msg_again" };
    const result = await consume(EVENTS_QUEUE, [fresh, old, again]);
    expect(result.explicitAcks.sort()).toEqual([fresh.id, old.id, again.id].sort());
    expect(result.retryMessages).toEqual([]);
    expect(await rows([old.body.id])).toEqual([before]);
    expect(await rows([fresh.body.id])).toHaveLength(1);
  });

  it("acks what it stored and has the queue retry only what it could not store", async () => {
    const good = message();
    const unwritable = message({ created: "yesterday" }, { created: Number.NaN });
    const foreign = message({}, { id: "evt_someone_else" });
    const result = await consume(EVENTS_QUEUE, [good, unwritable, foreign]);
    expect(result.explicitAcks).toEqual([good.id]);
    expect(result.retryMessages.map((r) => r.msgId).sort()).toEqual([unwritable.id, foreign.id].sort());
    // (getQueueResult does not report per-message delays; the backoff is checked below.)
    expect([1, 2, 3, 20].map(retryDelaySeconds)).toEqual([10, 20, 40, 3600]);
    expect((await rows([good.body.id, unwritable.body.id, foreign.body.id, "evt_someone_else"])).map((r) => r.id)).toEqual([good.body.id]);
  });

  it("processes at most EVENTS_PROCESS_PER_RUN of a batch's new events and leaves the rest pending for the sweep", async () => {
    const handled = async () => {
      const { sub } = await subscriber();
      return (await eventsFor([sub.id])).filter((e) => needsProcessing(e.type)).slice(0, 2);
    };
    const limited = [...(await handled()), ...(await handled())];
    expect(limited).toHaveLength(4);
    const limitedIds = limited.map((e) => e.id);
    let statuses: string[];
    try {
      await consume(EVENTS_QUEUE, asMessages(limited, "limited"), { EVENTS_PROCESS_PER_RUN: "3" });
      statuses = (await rows(limitedIds)).map((r) => r.status).sort();
    } finally {
      // The files of this project share a database, and one pending event would hold up every later
      // file's wait for the queue to drain (stripe-helpers.ts drained) until a sweep it never runs.
      await db().delete(stripeEvents).where(inArray(stripeEvents.id, limitedIds));
    }
    expect(statuses).toEqual(["pending", "processed", "processed", "processed"]);
    // The default (25) processes a batch of four whole.
    const whole = [...(await handled()), ...(await handled())];
    await consume(EVENTS_QUEUE, asMessages(whole, "whole"));
    expect((await rows(whole.map((e) => e.id))).map((r) => r.status)).toEqual(["processed", "processed", "processed", "processed"]);
  });

  it("processes a new event that can change the mirror right after storing it, and a redelivery not again", async () => {
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    const m = asMessages([created!], "sub")[0]!;
    expect((await consume(EVENTS_QUEUE, [m])).explicitAcks).toEqual([m.id]);
    expect(await db().select({ status: stripeEvents.status, attempts: stripeEvents.attempts }).from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get()).toEqual({
      status: "processed",
      attempts: 1,
    });
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
    const audits = await env.DB.prepare("select count(*) as n from audit_log").first<{ n: number }>();
    await consume(EVENTS_QUEUE, [{ ...m, id: "msg_sub_again" }]);
    expect(await db().select({ attempts: stripeEvents.attempts }).from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get()).toEqual({ attempts: 1 });
    expect(await env.DB.prepare("select count(*) as n from audit_log").first<{ n: number }>()).toEqual(audits);
  });

  it("processes one customer's events of a batch in one sync: every event marked processed once, the mirror as Stripe has it", async () => {
    const { userId, customer, sub } = await subscriber();
    const invoiceIds = (await stripe().invoices.list({ customer: customer.id, limit: 10 })).data.map((i) => i.id);
    // customer.created, customer.subscription.created, invoice.created, .finalized, .paid, ...: in Stripe's order.
    const events = (await eventsFor([customer.id, sub.id, ...invoiceIds])).filter((e) => syncsOnly(e.type));
    expect(events.length).toBeGreaterThan(3);
    // The last to arrive is a redelivery from an hour before: the sync is dated by the newest.
    events.push({ ...events.shift()!, created: events[0]!.created - 3600 });
    const newest = events.slice(0, -1).at(-1)!;
    const since = (await env.DB.prepare("select max(seq) as seq from audit_log").first<{ seq: number }>())!.seq;
    const messages = asMessages(events, "together");
    expect((await consume(EVENTS_QUEUE, messages)).explicitAcks).toHaveLength(events.length);

    const stored = await rows(events.map((e) => e.id));
    expect(stored.map((r) => [r.id, r.status, r.attempts]).sort()).toEqual(events.map((e) => [e.id, "processed", 1]).sort());
    expect(await db().select({ status: subscriptions.status, customerId: subscriptions.customerId }).from(subscriptions).where(eq(subscriptions.id, sub.id)).get()).toEqual({
      status: (await stripe().subscriptions.retrieve(sub.id)).status,
      customerId: customer.id,
    });
    expect(await db().select({ tier: entitlements.tier, status: entitlements.status }).from(entitlements).where(eq(entitlements.userId, userId)).get()).toEqual({ tier: "local", status: "active" });
    // One sync wrote it all: each row's audit entry once, all naming the newest event.
    const audited = await env.DB.prepare("select actor_id as actor, subject_type as type, subject_id as id from audit_log where seq > ? and actor_type = 'stripe'")
      .bind(since)
      .all<{ actor: string; type: string; id: string }>();
    expect(new Set(audited.results.map((a) => a.actor))).toEqual(new Set([newest.id]));
    const subjects = audited.results.map((a) => `${a.type}:${a.id}`);
    expect(subjects).toEqual([...new Set(subjects)]);
    expect(subjects).toContain(`subscription:${sub.id}`);
  });

  it("leaves each event of a failed shared sync pending with its error, and the sweep then processes each alone", async () => {
    const { customer, sub } = await subscriber();
    const events = (await eventsFor([customer.id, sub.id])).filter((e) => syncsOnly(e.type));
    expect(events.length).toBeGreaterThan(1);
    for (const e of events) await storeEvent(db(), webhookEvent(e), Date.now());
    const failing = {
      ...svc(),
      fault: (stage: string) => {
        if (stage === "before_commit") throw new Error("D1 is unavailable");
      },
    };
    expect(await processTogether(failing, events)).toEqual([]);
    const failed = await rows(events.map((e) => e.id));
    expect(failed.map((r) => [r.status, r.attempts, r.leaseUntil, r.lastError])).toEqual(events.map(() => ["pending", 1, null, "Error: D1 is unavailable"]));
    expect(await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get()).toBeUndefined();

    for (const e of events) expect(await processEvent(svc(Date.now() + BACKOFF_MS[0]!), e.id)).toBe("processed");
    expect((await rows(events.map((e) => e.id))).map((r) => [r.status, r.attempts])).toEqual(events.map(() => ["processed", 2]));
    expect((await db().select({ status: subscriptions.status }).from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
  });

  it("stores messages from the dead letter queue the same way", async () => {
    const m = message();
    expect((await consume(EVENTS_DLQ, [m])).explicitAcks).toEqual([m.id]);
    expect((await db().select({ id: stripeEvents.id }).from(stripeEvents).where(eq(stripeEvents.id, m.body.id)).get())?.id).toBe(m.body.id);
  });
});
