/**
 * The inbox of Stripe events, stored once each (the id is the key), then processed. A webhook is
 * made durable before we answer Stripe by putting it on the Cloudflare queue, whose consumer
 * writes it here in batches (stripe-sync/ingest.ts); reconciliation writes here directly. Processing retries are a cron sweep over due rows rather
 * than the queue's: once stored, the row is the durable record, so a sweep needs no second
 * system, behaves the same in miniflare and tests, and keeps every retry visible in
 * GET /v1/events.
 */
import { and, asc, desc, eq, fillPlaceholders, gte, inArray, isNull, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { builtOnce } from "../db/built-once";
import type { Db } from "../db/client";
import { stripeEvents, type EventStatus } from "../db/schema";
import { describeError } from "../log";
import type { Stripe } from "./stripe";

export type EventRow = typeof stripeEvents.$inferSelect;

/** How long a processor holds an event before a sweep may assume it crashed. */
export const LEASE_MS = 60_000;
/** Delay before attempt n+1 after n failures; past the last, the event is parked. */
export const BACKOFF_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 4 * 3_600_000, 12 * 3_600_000, 24 * 3_600_000];
export const MAX_ATTEMPTS = BACKOFF_MS.length + 1;

export interface IncomingEvent {
  event: Stripe.Event;
  /** The exact text received (or, for reconciliation, the event re-serialised). */
  payload: string;
  source: EventRow["source"];
  /** When we first had the event: the webhook's arrival, even if the row is written later. */
  receivedAt: number;
  needsProcessing: boolean;
}

/** The row of one event; `now` is when the row is written. */
function eventValues(e: IncomingEvent, now: number) {
  const object = e.event.data?.object as { id?: unknown } | undefined;
  return {
    id: e.event.id,
    type: e.event.type,
    createdAt: e.event.created * 1000,
    // Any well-formed event is taken (event-types.ts) and must then be storable: these two are
    // not required of it, so a missing or odd value is stored as test mode / unknown version
    // rather than keep the row out (the payload keeps what was sent).
    livemode: e.event.livemode === true,
    apiVersion: typeof e.event.api_version === "string" ? e.event.api_version : null,
    objectId: typeof object?.id === "string" ? object.id : null,
    payload: e.payload,
    receivedAt: e.receivedAt,
    source: e.source,
    attempts: 0,
    ...(e.needsProcessing
      ? // The sweep leaves a fresh event to the processor started with it, unless that one dies.
        { status: "pending" as const, processedAt: null, nextAttemptAt: now + LEASE_MS }
      : { status: "processed" as const, processedAt: now, nextAttemptAt: null }),
  };
}

type EventValues = ReturnType<typeof eventValues>;

const p = sql.placeholder;
/** A placeholder for each column eventValues writes: `satisfies` refuses a column missing or extra. */
const EVENT_PLACEHOLDERS = {
  id: p("id"),
  type: p("type"),
  createdAt: p("createdAt"),
  livemode: p("livemode"),
  apiVersion: p("apiVersion"),
  objectId: p("objectId"),
  payload: p("payload"),
  receivedAt: p("receivedAt"),
  source: p("source"),
  attempts: p("attempts"),
  status: p("status"),
  processedAt: p("processedAt"),
  nextAttemptAt: p("nextAttemptAt"),
} satisfies Record<keyof EventValues, unknown>;

/**
 * The INSERT ... ON CONFLICT DO NOTHING of an event, built by drizzle once per D1 handle with a
 * placeholder per column and only bound per event: a webhook burst stores up to 100 events per
 * consumer run, and drizzle's query building was a fifth of the worker's CPU in a profile of the
 * demo seed (issue 28).
 */
const insertTemplate = builtOnce((db) => {
  const query = db
    .insert(stripeEvents)
    .values(EVENT_PLACEHOLDERS as never)
    .onConflictDoNothing()
    .toSQL();
  // Not drizzle's prepared query: storeEvents binds these into one D1 batch, which takes D1 statements.
  return { statement: db.$client.prepare(query.sql), params: query.params };
});

function insertEvent(db: Db, e: IncomingEvent, now: number): ReturnType<D1Database["prepare"]> {
  const t = insertTemplate(db);
  return t.statement.bind(...fillPlaceholders(t.params, eventValues(e, now)));
}

// D1 reports how many rows an insert wrote: none means the id was there already.
const wrote = (r: unknown) => ((r as { meta?: { changes?: number } } | undefined)?.meta?.changes ?? 0) > 0;

/** Stores an event once; false when it was already stored (a duplicate delivery). */
export async function storeEvent(db: Db, e: IncomingEvent, now: number): Promise<boolean> {
  return wrote(await insertEvent(db, e, now).run());
}

/**
 * Stores several events in ONE D1 batch (one transaction: all rows or none); for each, whether
 * it was new. An id already stored, or repeated within the batch, is written once.
 */
export async function storeEvents(db: Db, events: IncomingEvent[], now: number): Promise<boolean[]> {
  if (events.length === 0) return [];
  return (await db.$client.batch(events.map((e) => insertEvent(db, e, now)))).map(wrote);
}

/** Takes the event for processing, or returns undefined when it is done or held by another. */
export async function claimEvent(db: Db, id: string, now: number): Promise<EventRow | undefined> {
  const rows = await db
    .update(stripeEvents)
    .set({ leaseUntil: now + LEASE_MS, attempts: sql`${stripeEvents.attempts} + 1` })
    .where(and(eq(stripeEvents.id, id), eq(stripeEvents.status, "pending"), or(isNull(stripeEvents.leaseUntil), lt(stripeEvents.leaseUntil, now))))
    .returning();
  return rows[0];
}

/** Takes several events for processing at once: those pending and not held by another, in one statement. */
export async function claimEvents(db: Db, ids: string[], now: number): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  return db
    .update(stripeEvents)
    .set({ leaseUntil: now + LEASE_MS, attempts: sql`${stripeEvents.attempts} + 1` })
    .where(and(inArray(stripeEvents.id, ids), eq(stripeEvents.status, "pending"), or(isNull(stripeEvents.leaseUntil), lt(stripeEvents.leaseUntil, now))))
    .returning();
}

/**
 * The claim's lease is its token: only the processor still holding it may finish or fail the
 * event, so a slow processor whose lease ran out cannot undo the work of the one that took over.
 */
const held = (row: Pick<EventRow, "id" | "leaseUntil">) =>
  and(eq(stripeEvents.id, row.id), eq(stripeEvents.status, "pending"), row.leaseUntil === null ? isNull(stripeEvents.leaseUntil) : eq(stripeEvents.leaseUntil, row.leaseUntil));

export function markProcessed(db: Db, row: Pick<EventRow, "id" | "leaseUntil">, now: number) {
  return db.update(stripeEvents).set({ status: "processed", processedAt: now, leaseUntil: null, lastError: null, nextAttemptAt: null }).where(held(row));
}

export async function markFailed(db: Db, row: EventRow, error: unknown, now: number): Promise<EventStatus> {
  const parked = row.attempts >= MAX_ATTEMPTS;
  const status: EventStatus = parked ? "parked" : "pending";
  await db
    .update(stripeEvents)
    .set({ status, leaseUntil: null, lastError: describeError(error).slice(0, 1000), nextAttemptAt: parked ? null : now + BACKOFF_MS[Math.min(row.attempts, BACKOFF_MS.length) - 1]! })
    .where(held(row));
  return status;
}

export async function dueEvents(db: Db, now: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: stripeEvents.id })
    .from(stripeEvents)
    .where(and(eq(stripeEvents.status, "pending"), lte(stripeEvents.nextAttemptAt, now), or(isNull(stripeEvents.leaseUntil), lt(stripeEvents.leaseUntil, now))))
    .orderBy(asc(stripeEvents.nextAttemptAt))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/**
 * Puts events back in the queue (replay): processed and parked events alike. The source becomes
 * `replay`, so processing (now, or by the sweep for the rest) refetches every object the event
 * is about instead of skipping those synced since it arrived.
 * @returns the ids put back, oldest event first.
 */
export async function requeue(db: Db, where: SQL, now: number): Promise<string[]> {
  const rows = await db
    .update(stripeEvents)
    .set({ status: "pending", source: "replay", nextAttemptAt: now, leaseUntil: null, attempts: 0 })
    // An event being processed right now keeps its lease; replaying it would race that processor.
    .where(and(where, or(isNull(stripeEvents.leaseUntil), lt(stripeEvents.leaseUntil, now))))
    .returning({ id: stripeEvents.id, createdAt: stripeEvents.createdAt });
  return rows.sort((x, y) => x.createdAt - y.createdAt).map((r) => r.id);
}

export const byId = (id: string) => eq(stripeEvents.id, id);
export const createdBetween = (from: number, to: number) => and(gte(stripeEvents.createdAt, from), lte(stripeEvents.createdAt, to))!;

export async function listEvents(db: Db, f: { status?: EventStatus | undefined; type?: string | undefined; before?: number | undefined; limit: number }) {
  const where: SQL[] = [];
  if (f.status) where.push(eq(stripeEvents.status, f.status));
  if (f.type) where.push(eq(stripeEvents.type, f.type));
  if (f.before !== undefined) where.push(lt(stripeEvents.receivedAt, f.before));
  const rows = await db
    .select({
      id: stripeEvents.id,
      type: stripeEvents.type,
      createdAt: stripeEvents.createdAt,
      receivedAt: stripeEvents.receivedAt,
      source: stripeEvents.source,
      status: stripeEvents.status,
      attempts: stripeEvents.attempts,
      nextAttemptAt: stripeEvents.nextAttemptAt,
      lastError: stripeEvents.lastError,
      processedAt: stripeEvents.processedAt,
      objectId: stripeEvents.objectId,
    })
    .from(stripeEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(stripeEvents.receivedAt))
    .limit(f.limit + 1)
    .all();
  return { rows: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
}
