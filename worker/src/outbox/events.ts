/**
 * The outbox's writer: an event of the outbound webhooks, as the statements that store it and
 * make its deliveries, for the caller's own D1 batch. A domain that reports a change puts these in
 * the batch that makes the change, so both commit or neither does. This folder imports no other
 * domain folder (as audit/ does not), so every folder that reports a change may use it.
 */
import { sql } from "drizzle-orm";
import { randomHex } from "../crypto";
import type { Db } from "../db/client";
import { outboundEvents, webhookDeliveries } from "../db/schema";
import { instant } from "../instant";

/** Every event type an endpoint may subscribe to (the data of each: outbound/catalog.ts). */
export const EVENT_TYPES = [
  "entitlement.changed",
  "subscription.created",
  "subscription.updated",
  "subscription.canceled",
  "invoice.paid",
  "invoice.payment_failed",
  "dunning.stage_reached",
  "dunning.recovered",
  "refund.created",
  "refund.updated",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface OutboxEvent {
  type: EventType;
  userId: string;
  /** When the change happened (ms): the body's `timestamp`. */
  occurredAt: number;
  data: Record<string, unknown>;
}

/** The `webhook-id` of an event: `msg_` and 24 hex digits, the same on every delivery of it. */
export const newEventId = (): string => `msg_${randomHex(12)}`;

/**
 * The event's row and, in the same statement list, one delivery for each enabled endpoint
 * subscribed to its type (or to "*"): an endpoint added later does not get it (replay does).
 * Spread the result into the batch of the change it reports; `now` is the writer's clock (the
 * deliveries are due at once), `occurredAt` may be Stripe's time of the change.
 */
export function outboxStatements(db: Db, e: OutboxEvent, now: number, id: string = newEventId()) {
  const body = JSON.stringify({ type: e.type, timestamp: instant(e.occurredAt), data: e.data });
  return [
    db.insert(outboundEvents).values({ id, type: e.type, userId: e.userId, occurredAt: e.occurredAt, body }),
    // INSERT ... SELECT lists every column of the table, in the schema's order.
    db
      .insert(webhookDeliveries)
      .select(
        sql`select 'whd_' || lower(hex(randomblob(12))), we.id, ev.id, ev.seq, ev.user_id, 'pending', 0, ${now}, null, ${now}, null, null, null, ${now}
          from outbound_events ev join webhook_endpoints we on we.enabled = 1
            and exists (select 1 from json_each(we.events) j where j.value in ('*', ev.type))
          where ev.id = ${id}`,
      )
      .onConflictDoNothing(),
  ] as const;
}
