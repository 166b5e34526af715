/**
 * Outbound webhook endpoints and their deliveries on the wire (/v1/webhook-endpoints). An
 * endpoint's secret appears only in the answers that make one (create, rotate-secret).
 */
import { z } from "zod";
import { WEBHOOK_DELIVERY_STATUSES, type webhookAttempts, type webhookDeliveries, type webhookEndpoints } from "../db/schema";
import { Instant, instant, instantOrNull } from "../instant";

export const WebhookEndpoint = z.object({
  id: z.string().describe("we_..."),
  url: z.string(),
  events: z.array(z.string()).describe('Event types, or ["*"] for all'),
  description: z.string().nullable(),
  enabled: z.boolean().describe("false once disabled by an admin or after three days of failed deliveries"),
  created_at: Instant,
});
export type WebhookEndpointWire = z.output<typeof WebhookEndpoint>;

export const CreatedWebhookEndpoint = WebhookEndpoint.extend({ secret: z.string().describe("whsec_...: shown only here and by rotate-secret") });

export function presentWebhookEndpoint(row: typeof webhookEndpoints.$inferSelect): WebhookEndpointWire {
  return { id: row.id, url: row.url, events: JSON.parse(row.events) as string[], description: row.description, enabled: row.enabled, created_at: instant(row.createdAt) };
}

export const WebhookAttempt = z.object({
  attempted_at: Instant,
  status_code: z.int().nullable().describe("The HTTP status answered; null when none came (timeout, refused connection, a URL no longer allowed)"),
  duration_ms: z.int(),
  response_excerpt: z.string().nullable().describe("The answer's first 500 characters"),
  error: z.string().nullable(),
});

export const WebhookDelivery = z.object({
  id: z.string().describe("whd_..."),
  event_id: z.string().describe("The event's webhook-id (msg_...)"),
  event_type: z.string(),
  user_id: z.string(),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES),
  attempt_count: z.int().describe("Attempts in the current round (since creation, a retry or a replay)"),
  next_attempt_at: Instant.nullable(),
  delivered_at: Instant.nullable(),
  created_at: Instant,
  attempts: z.array(WebhookAttempt).describe("Every attempt, oldest first"),
});
export type WebhookDeliveryWire = z.output<typeof WebhookDelivery>;

export function presentWebhookDelivery(row: typeof webhookDeliveries.$inferSelect, eventType: string, attempts: (typeof webhookAttempts.$inferSelect)[]): WebhookDeliveryWire {
  return {
    id: row.id,
    event_id: row.eventId,
    event_type: eventType,
    user_id: row.userId,
    status: row.status,
    attempt_count: row.attempts,
    next_attempt_at: row.status === "pending" ? instantOrNull(row.nextAttemptAt) : null,
    delivered_at: instantOrNull(row.deliveredAt),
    created_at: instant(row.createdAt),
    attempts: attempts.map((a) => ({ attempted_at: instant(a.attemptedAt), status_code: a.status, duration_ms: a.durationMs, response_excerpt: a.responseExcerpt, error: a.error })),
  };
}
