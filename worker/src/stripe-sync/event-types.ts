/**
 * What the webhook endpoint and reconciliation take as a Stripe event. There is no list of
 * types: Stripe sends ones we do not handle (review.*, payout.*, transfer.*) and adds new ones,
 * and answering a validly signed event with a 4xx makes Stripe retry it for three days and
 * flag the endpoint. So any well-formed event is stored; whether its type needs work is
 * `needsProcessing` (process.ts), and one that needs none is stored as processed.
 */

/** As the replay route takes it, so every stored event can be replayed by id. */
const EVENT_ID = /^evt_[A-Za-z0-9_]{1,100}$/;
/** Dotted lowercase: `refund.created`, `customer.subscription.updated`. */
const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_TYPE_LENGTH = 100;

export function isEventType(type: unknown): type is string {
  return typeof type === "string" && type.length <= MAX_TYPE_LENGTH && EVENT_TYPE.test(type);
}

/** The fields that keep a parsed body from being a well-formed event, by name; empty when it is one. */
export function malformedEventFields(event: unknown): { field: string; message: string }[] {
  const e = (event && typeof event === "object" ? event : {}) as { id?: unknown; type?: unknown; created?: unknown; data?: { object?: unknown } | null };
  const errors: { field: string; message: string }[] = [];
  if (typeof e.id !== "string" || !EVENT_ID.test(e.id)) errors.push({ field: "id", message: "must be an event id like evt_..." });
  if (!isEventType(e.type)) errors.push({ field: "type", message: "must be a dotted lowercase event type like invoice.paid" });
  // Stored as milliseconds, so it must stay an exact integer when multiplied by 1000.
  if (typeof e.created !== "number" || !Number.isSafeInteger(e.created) || !Number.isSafeInteger(e.created * 1000) || e.created < 0) errors.push({ field: "created", message: "must be Unix seconds" });
  const object = e.data && typeof e.data === "object" ? e.data.object : undefined;
  if (typeof object !== "object" || object === null || Array.isArray(object)) errors.push({ field: "data.object", message: "must be the object the event is about" });
  return errors;
}
