import { createRoute, z } from "@hono/zod-openapi";
import { listEvents } from "../../stripe-sync";
import { EVENT_STATUSES } from "../../db/schema";
import { pageLimit } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, InstantInput, instant, instantOrNull, msOf } from "../../instant";

const Event = z
  .object({
    id: z.string(),
    type: z.string(),
    created_at: Instant,
    received_at: Instant,
    source: z.enum(["webhook", "reconcile", "replay"]),
    status: z.enum(EVENT_STATUSES),
    attempts: z.int(),
    next_attempt_at: Instant.nullable(),
    last_error: z.string().nullable(),
    processed_at: Instant.nullable(),
    object_id: z.string().nullable(),
  })
  .openapi("StoredEvent");

const ListQuery = z.strictObject({
  status: z.enum(EVENT_STATUSES).optional(),
  type: z.string().max(100).optional(),
  before: InstantInput.optional().describe("Only events received before this time (cursor)"),
  limit: pageLimit(200, 50),
});

const route = createRoute({
  method: "get",
  path: "/v1/events",
  ...guard("events:read"),
  summary: "Recent Stripe events with status, attempts and last error",
  tags: ["events"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(Event), has_more: z.boolean() }), "Newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const page = await listEvents(c.get("services").db, { status: q.status, type: q.type, before: q.before ? msOf(q.before) : undefined, limit: q.limit });
  return c.json(
    {
      data: page.rows.map((r) => ({
        id: r.id,
        type: r.type,
        created_at: instant(r.createdAt),
        received_at: instant(r.receivedAt),
        source: r.source,
        status: r.status,
        attempts: r.attempts,
        next_attempt_at: instantOrNull(r.nextAttemptAt),
        last_error: r.lastError,
        processed_at: instantOrNull(r.processedAt),
        object_id: r.objectId,
      })),
      has_more: page.hasMore,
    },
    200,
  );
});
