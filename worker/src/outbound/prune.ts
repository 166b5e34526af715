/**
 * The outbox's retention (the quarter-hour cron): events older than 30 days (Stripe keeps its
 * events as long) go, with their delivered deliveries and every attempt of those. An event with
 * a delivery still pending, being sent or parked is kept whatever its age: it is still owed.
 */
import { sql } from "drizzle-orm";
import { deleteInBatches } from "../db/prune";
import { outboundEvents, webhookAttempts, webhookDeliveries } from "../db/schema";
import type { Services } from "../services";

export const OUTBOX_RETENTION_MS = 30 * 86_400_000;

export async function pruneOutbox(s: Pick<Services, "db" | "clock">): Promise<{ events: number; deliveries: number; attempts: number }> {
  const cutoff = s.clock.now() - OUTBOX_RETENTION_MS;
  const old = sql`select id from outbound_events where occurred_at <= ${cutoff} and not exists (select 1 from webhook_deliveries d where d.event_id = outbound_events.id and d.status != 'delivered')`;
  const attempts = await deleteInBatches(s.db, webhookAttempts, sql`delivery_id in (select id from webhook_deliveries where event_id in (${old}))`);
  const deliveries = await deleteInBatches(s.db, webhookDeliveries, sql`event_id in (${old})`);
  const events = await deleteInBatches(s.db, outboundEvents, sql`id in (${old})`);
  return { events, deliveries, attempts };
}
