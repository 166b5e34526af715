import { z } from "@hono/zod-openapi";
import { byId, createdBetween, listEvents, requeue } from "../billing/events";
import { processEvent } from "../billing/process";
import { readResync, resyncChunk, startResync } from "../billing/resync";
import { stripeClient, type Stripe } from "../billing/stripe";
import { getDb, type Db } from "../db/client";
import { EVENT_STATUSES } from "../db/schema";
import { stripeConfig } from "../env";
import { ApiError } from "../http/errors";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { json, jsonBody, keyedErrors, notFound, Timestamp } from "../http/schemas";

const Event = z
  .object({
    id: z.string(),
    type: z.string(),
    created_at: Timestamp,
    received_at: Timestamp,
    source: z.enum(["webhook", "reconcile", "replay"]),
    status: z.enum(EVENT_STATUSES),
    attempts: z.int(),
    next_attempt_at: Timestamp.nullable(),
    last_error: z.string().nullable(),
    processed_at: Timestamp.nullable(),
    object_id: z.string().nullable(),
  })
  .openapi("StoredEvent");
export type StoredEventResponse = z.infer<typeof Event>;

const ListQuery = z.strictObject({
  status: z.enum(EVENT_STATUSES).optional(),
  type: z.string().max(100).optional(),
  before: Timestamp.optional().describe("Only events received before this time (cursor)"),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const IdParam = z.object({ id: z.string().regex(/^evt_[A-Za-z0-9_]{1,100}$/, "must be an event id like evt_...").openapi({ param: { name: "id", in: "path" } }) });
const RangeBody = z.strictObject({ from: Timestamp, to: Timestamp }).openapi("ReplayRange");
const Replayed = z.object({ requeued: z.int(), processed: z.int(), failed: z.int() });
const ResyncBody = z.strictObject({ restart: z.boolean().default(false), pages: z.int().min(1).max(20).default(3) }).openapi("ResyncRequest");
const Resync = z
  .object({
    phase: z.enum(["customers", "subscriptions", "invoices", "done"]),
    cursor: z.string().nullable(),
    started_at: z.int(),
    finished_at: z.int().nullable(),
    counts: z.object({ customers: z.int(), subscriptions: z.int(), invoices: z.int() }),
  })
  .openapi("ResyncProgress");

const listRoute = defineRoute("eventsList", { request: { query: ListQuery }, responses: { 200: json(z.object({ data: z.array(Event), has_more: z.boolean() }), "Newest first"), ...keyedErrors } });
const replayRoute = defineRoute("eventsReplay", { request: { params: IdParam }, responses: { 200: json(Replayed, "Processed again"), ...keyedErrors, ...notFound } });
const rangeRoute = defineRoute("eventsReplayRange", { request: { body: jsonBody(RangeBody) }, responses: { 200: json(Replayed, "Requeued; up to 50 of them processed now, the rest by the minute sweep"), ...keyedErrors } });
const resyncRoute = defineRoute("resync", { request: { body: { required: false, content: { "application/json": { schema: ResyncBody } } } }, responses: { 200: json(Resync, "Progress after this chunk; call again until phase is done"), ...keyedErrors } });

/**
 * Processes up to REPLAY_NOW of the requeued events within the request; the rest are due for
 * the minute sweep. Counts only the events this replay put back.
 */
async function replayNow(db: Db, stripe: Stripe, ids: string[]) {
  let processed = 0;
  let failed = 0;
  for (const id of ids.slice(0, REPLAY_NOW)) {
    if ((await processEvent({ db, stripe, now: Date.now }, id)) === "processed") processed++;
    else failed++;
  }
  return { requeued: ids.length, processed, failed };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const REPLAY_NOW = 50;

export const events = newRouter()
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    const page = await listEvents(getDb(c.env.DB), { status: q.status, type: q.type, before: q.before ? Date.parse(q.before) : undefined, limit: q.limit });
    return c.json(
      {
        data: page.rows.map((r) => ({
          id: r.id, type: r.type, created_at: new Date(r.createdAt).toISOString(), received_at: new Date(r.receivedAt).toISOString(), source: r.source, status: r.status,
          attempts: r.attempts, next_attempt_at: iso(r.nextAttemptAt), last_error: r.lastError, processed_at: iso(r.processedAt), object_id: r.objectId,
        })),
        has_more: page.hasMore,
      },
      200,
    );
  })
  .openapi(replayRoute, async (c) => {
    const { id } = c.req.valid("param");
    const db = getDb(c.env.DB);
    const ids = await requeue(db, byId(id), c.get("now"));
    if (ids.length === 0) throw new ApiError("not_found", `No stored event has the id ${id}, or it is being processed right now.`, { errors: [{ field: "path.id", message: "no such event, or processing" }] });
    return c.json(await replayNow(db, stripeClient(stripeConfig(c.env)), ids), 200);
  })
  .openapi(rangeRoute, async (c) => {
    const { from, to } = c.req.valid("json");
    const [a, b] = [Date.parse(from), Date.parse(to)];
    if (b < a) throw new ApiError("validation_failed", "`to` is before `from`.", { errors: [{ field: "body.to", message: "must not be before from" }] });
    const db = getDb(c.env.DB);
    const ids = await requeue(db, createdBetween(a, b), c.get("now"));
    return c.json(await replayNow(db, stripeClient(stripeConfig(c.env)), ids), 200);
  })
  .openapi(resyncRoute, async (c) => {
    const body = c.req.valid("json") ?? { restart: false, pages: 3 };
    const db = getDb(c.env.DB);
    const current = await readResync(db);
    if (body.restart || !current || current.phase === "done") await startResync(db, c.get("now"));
    const state = await resyncChunk({ db, stripe: stripeClient(stripeConfig(c.env)), now: Date.now }, body.pages ?? 3);
    return c.json(state!, 200);
  });
