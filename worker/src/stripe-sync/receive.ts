/**
 * The webhook route's one domain call: verify the signature on the raw body, check that it is
 * an event, and make it durable (a queue send, or a direct store when the queue cannot take it)
 * before Stripe gets its 200.
 */
import { DomainError } from "../errors";
import { describeError } from "../log";
import type { Services } from "../services";
import { malformedEventFields } from "./event-types";
import type { EventMessage } from "../env";
import { incoming, ingest, processNew } from "./ingest";
import { verifyWebhook } from "./verify-webhook";

/**
 * Messages are sent as JSON; one whose encoding is over this many bytes (a queue message holds
 * 128 KB, minus room for the envelope) is stored by the route directly, as before the queue.
 * Stripe events are usually a few KB.
 */
export const MAX_QUEUED_BYTES = 120_000;

const encoder = new TextEncoder();
export function fitsQueue(message: EventMessage): boolean {
  // Cheap bound first: JSON escaping at most doubles ASCII, and UTF-8 takes at most 3 bytes per unit.
  if (message.payload.length * 3 + 200 <= MAX_QUEUED_BYTES) return true;
  return encoder.encode(JSON.stringify(message)).length <= MAX_QUEUED_BYTES;
}

/** @returns whether the event was already stored (known only when it was stored here). */
export async function receiveWebhook(s: Services, raw: string, signature: string | undefined): Promise<{ duplicate: boolean }> {
  const { STRIPE_WEBHOOK_SECRETS: secrets, EVENTS: queue } = s.webhooks;
  const now = s.clock.now();
  const event = await verifyWebhook(raw, signature, secrets, now);
  // Any well-formed event is taken, whatever its type (see event-types.ts).
  const malformed = malformedEventFields(event);
  if (malformed.length > 0) {
    throw new DomainError("validation_failed", `The signed body is not a well-formed Stripe event (check ${malformed.map((e) => e.field).join(", ")}).`, { errors: malformed });
  }
  const message: EventMessage = { id: event.id, type: event.type, created: event.created, payload: raw, received_at: now };
  if (fitsQueue(message)) {
    try {
      // Durable once send resolves: the consumer (stripe-sync/ingest.ts) stores and processes it.
      await queue.send(message, { contentType: "json" });
      return { duplicate: false };
    } catch (error) {
      s.log.log("warn", "queue send failed; storing directly", { event: event.id, error: describeError(error) });
    }
  }
  const item = incoming(event, raw, now);
  const [written] = await ingest(s, [item]);
  if (written instanceof Error) throw written;
  if (written && item.needsProcessing) s.defer(processNew(s, [event]));
  return { duplicate: !written };
}
