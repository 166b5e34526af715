/**
 * process_webhook (admin): an agent hands over a Stripe event as JSON. Nothing in the body is
 * trusted: with an `id`, the event itself is fetched from Stripe; without one, the object it
 * names is fetched (and, when Stripe still lists the event about it, that event). Whatever Stripe
 * says then goes through the webhook's own pipeline (store once, processEvent → syncObjects),
 * so this path cannot write anything a signed webhook could not. The public webhook endpoint
 * keeps requiring signatures; this tool is for an operator, by key.
 */
import { z } from "zod";
import { defineTool } from "../types";
import { DomainError } from "../../errors";

const EventId = z.string().regex(/^evt_[A-Za-z0-9_]{1,255}$/, "must be a Stripe event id (evt_...)");
const ObjectId = z.string().regex(/^[a-z]{2,8}_[A-Za-z0-9_]{1,255}$/, "must be a Stripe object id (in_..., sub_..., cus_..., cs_...)");

const Input = z
  .looseObject({
    id: EventId.optional().describe("The event's id: the event is fetched from Stripe by it"),
    type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/, "must be a Stripe event type like invoice.payment_failed").describe("The event type, e.g. invoice.payment_failed"),
    data: z.looseObject({
      object: z.looseObject({
        id: ObjectId.optional().describe("Without an event id, this object is fetched from Stripe"),
        object: z.string().optional(),
      }),
    }),
  })
  .describe("A Stripe event as JSON; only `id`, `type` and `data.object.id` are read, everything else is compared with Stripe and never trusted");

const Change = z.object({ action: z.string(), subject: z.object({ type: z.string(), id: z.string() }), before: z.unknown(), after: z.unknown() });

const Output = z.object({
  event_id: z.string().nullable().describe("The Stripe event processed; null when only the object was synced"),
  type: z.string().describe("The type as Stripe has it"),
  fetched: z.enum(["event", "object"]).describe("What was fetched from Stripe: the event by id, or the object it names"),
  outcome: z.enum(["processed", "retry", "parked", "stored"]).describe("processed: the pipeline ran and committed; retry/parked: it failed and the sweep retries it (see GET /v1/events); stored: an event type that changes nothing is kept"),
  changes: z.array(Change).describe("What the pipeline changed, as the audit log recorded it; empty when the mirror was already up to date"),
  disagreements: z.array(z.object({ field: z.string(), given: z.unknown(), stripe: z.unknown() })).describe("Where the body differed from Stripe; Stripe's version was used"),
  summary: z.string(),
});

export const processWebhook = defineTool({
  name: "process_webhook",
  description:
    "Admin only. Process a Stripe event given as JSON, e.g. {\"type\": \"invoice.payment_failed\", \"data\": {\"object\": {...}}}, without trusting its contents: the event (by `id`) or else the object it names is fetched from Stripe and runs through the normal webhook pipeline (mirror, entitlements, dunning, audit). Returns what changed and where the body disagreed with Stripe.",
  input: Input,
  output: Output,
  permission: "events:replay",
  access: "write",
  examples: [{ type: "invoice.payment_failed", data: { object: { id: "in_123", object: "invoice" } } }],
  async handler() {
    throw new DomainError("unavailable", "process_webhook is not implemented yet.");
  },
});
