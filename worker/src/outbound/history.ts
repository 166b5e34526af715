/**
 * The deliveries of an endpoint with every attempt, and the two ways an admin sends again: one
 * delivery (retry), or every event of a time range (replay), each keeping its event's webhook-id.
 * Both start a new round: a fresh three-day window and backoff.
 */
import { and, desc, eq, inArray, lt, ne, or, sql } from "drizzle-orm";
import { outboundEvents, webhookAttempts, webhookDeliveries } from "../db/schema";
import { DomainError } from "../errors";
import { presentWebhookDelivery, type WebhookDeliveryWire } from "../presenters";
import type { Services } from "../services";
import { deliverDue, type DeliverDeps } from "./deliver";
import { endpointRow } from "./endpoints";

export async function listDeliveries(
  s: Pick<Services, "db">,
  endpointId: string,
  opts: { limit: number; startingAfter?: string | undefined },
): Promise<{ data: WebhookDeliveryWire[]; has_more: boolean }> {
  await endpointRow(s, endpointId);
  const where = [eq(webhookDeliveries.endpointId, endpointId)];
  if (opts.startingAfter !== undefined) {
    const cursor = await s.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, opts.startingAfter), eq(webhookDeliveries.endpointId, endpointId)))
      .get();
    if (!cursor)
      throw new DomainError("validation_failed", `No delivery ${opts.startingAfter} of this endpoint: pass the id of the last delivery of the previous page.`, {
        errors: [{ field: "starting_after", message: "not a delivery of this endpoint" }],
      });
    where.push(lt(webhookDeliveries.eventSeq, cursor.eventSeq));
  }
  const rows = await s.db
    .select({ d: webhookDeliveries, type: outboundEvents.type })
    .from(webhookDeliveries)
    .innerJoin(outboundEvents, eq(outboundEvents.id, webhookDeliveries.eventId))
    .where(and(...where))
    .orderBy(desc(webhookDeliveries.eventSeq))
    .limit(opts.limit + 1)
    .all();
  const page = rows.slice(0, opts.limit);
  const attempts = page.length
    ? await s.db
        .select()
        .from(webhookAttempts)
        .where(
          inArray(
            webhookAttempts.deliveryId,
            page.map((r) => r.d.id),
          ),
        )
        .orderBy(webhookAttempts.attemptedAt, webhookAttempts.id)
        .all()
    : [];
  return {
    data: page.map((r) =>
      presentWebhookDelivery(
        r.d,
        r.type,
        attempts.filter((a) => a.deliveryId === r.d.id),
      ),
    ),
    has_more: rows.length > opts.limit,
  };
}

async function deliveryView(s: Pick<Services, "db">, endpointId: string, id: string): Promise<WebhookDeliveryWire> {
  const row = await s.db
    .select({ d: webhookDeliveries, type: outboundEvents.type })
    .from(webhookDeliveries)
    .innerJoin(outboundEvents, eq(outboundEvents.id, webhookDeliveries.eventId))
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
    .get();
  if (!row) throw new DomainError("not_found", `The endpoint ${endpointId} has no delivery ${id}.`, { errors: [{ field: "delivery_id", message: "no such delivery of this endpoint" }] });
  const attempts = await s.db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, id)).orderBy(webhookAttempts.attemptedAt, webhookAttempts.id).all();
  return presentWebhookDelivery(row.d, row.type, attempts);
}

/**
 * Sends one delivery again now, whatever its state (delivered, parked, waiting for its next
 * attempt), unless a sender holds it this moment (409). The answer is the delivery after the attempt.
 */
export async function retryDelivery(s: DeliverDeps, endpointId: string, id: string): Promise<WebhookDeliveryWire> {
  const endpoint = await endpointRow(s, endpointId);
  await deliveryView(s, endpointId, id);
  const now = s.clock.now();
  const reset = await s.db
    .update(webhookDeliveries)
    .set({ status: "pending", attempts: 0, nextAttemptAt: now, roundStartedAt: now, leaseUntil: null, deliveredAt: null })
    .where(and(eq(webhookDeliveries.id, id), or(ne(webhookDeliveries.status, "delivering"), sql`${webhookDeliveries.leaseUntil} < ${now}`)))
    .returning({ id: webhookDeliveries.id })
    .all();
  if (reset.length === 0) throw new DomainError("conflict", `The delivery ${id} is being sent right now: read it again in a moment.`, { errors: [{ field: "delivery_id", message: "being sent" }] });
  if (endpoint.enabled) await deliverDue(s, 1, [id]);
  return deliveryView(s, endpointId, id);
}

/**
 * Every event of [from, to] (the change's time, `timestamp` in the body) of a type the endpoint
 * takes, sent again to it with its original webhook-id, in order per user: a delivery it had is
 * started again, an event it never had (made before it subscribed) gets one.
 */
export async function replayToEndpoint(s: DeliverDeps & Pick<Services, "announceOutbound">, endpointId: string, from: number, to: number): Promise<{ replayed: number }> {
  if (to < from) throw new DomainError("validation_failed", "to must not be before from.", { errors: [{ field: "to", message: "before from" }] });
  await endpointRow(s, endpointId);
  const now = s.clock.now();
  const result = await s.db.run(sql`insert into webhook_deliveries (id, endpoint_id, event_id, event_seq, user_id, status, attempts, next_attempt_at, round_started_at, created_at)
    select 'whd_' || lower(hex(randomblob(12))), we.id, ev.id, ev.seq, ev.user_id, 'pending', 0, ${now}, ${now}, ${now}
    from outbound_events ev join webhook_endpoints we on we.id = ${endpointId}
      and exists (select 1 from json_each(we.events) j where j.value in ('*', ev.type))
    where ev.occurred_at >= ${from} and ev.occurred_at <= ${to}
    on conflict (endpoint_id, event_id) do update set status = 'pending', attempts = 0, next_attempt_at = ${now}, round_started_at = ${now}, lease_until = null, delivered_at = null
      where webhook_deliveries.status != 'delivering' or webhook_deliveries.lease_until < ${now}`);
  s.announceOutbound();
  return { replayed: (result as { meta?: { changes?: number } }).meta?.changes ?? 0 };
}
