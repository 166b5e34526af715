/**
 * The catalog of outbound events: each type's `data`, as zod schemas in the API's own shapes (the
 * subscription, invoice and refund presenters, the token's claims), published in /openapi.json under
 * `webhooks` and in docs/api.md. Every delivery's body is `{ type, timestamp, data }`.
 */
import { z } from "zod";
import { ENTITLEMENT_STATUSES } from "../db/schema";
import { DUNNING_STAGES } from "../dunning";
import type { EventType } from "../outbox";
import { Instant } from "../instant";
import { Invoice, Refund, Subscription } from "../presenters";

/** A token's claims without iss, aud, sub, iat and exp. */
export const EventEntitlement = z.object({
  tier: z.string().nullable(),
  status: z.enum(ENTITLEMENT_STATUSES),
  features: z.array(z.string()),
  limits: z.record(z.string(), z.int().nullable()),
  trial_end: Instant.nullable(),
  grace_until: Instant.nullable(),
});

const subscriptionData = z.object({ user_id: z.string(), subscription: Subscription });
const invoiceData = z.object({ user_id: z.string(), invoice: Invoice });
const refundData = z.object({ user_id: z.string(), refund: Refund });

export const EVENT_CATALOG = {
  "entitlement.changed": {
    summary: "A user's access changed: the same claims a token carries, before (null: the user had none stored) and after",
    data: z.object({ user_id: z.string(), before: EventEntitlement.nullable(), after: EventEntitlement }),
  },
  "subscription.created": { summary: "A subscription appeared in the mirror", data: subscriptionData },
  "subscription.updated": { summary: "A subscription changed (plan, status, cancellation, pause, period)", data: subscriptionData },
  "subscription.canceled": { summary: "A subscription ended", data: subscriptionData },
  "invoice.paid": { summary: "An invoice was paid", data: invoiceData },
  "invoice.payment_failed": { summary: "A payment attempt of an invoice failed", data: invoiceData },
  "dunning.stage_reached": {
    summary: "A dunning case of an unpaid invoice reached a stage of the policy (its email, or the suspension)",
    data: z.object({ user_id: z.string(), invoice_id: z.string(), stage: z.enum(DUNNING_STAGES), day: z.int() }),
  },
  "dunning.recovered": { summary: "The unpaid invoice of a dunning case was paid", data: z.object({ user_id: z.string(), invoice_id: z.string() }) },
  "refund.created": { summary: "A refund appeared in the mirror: made through POST /v1/refunds or in the Stripe dashboard", data: refundData },
  "refund.updated": { summary: "A refund's status changed (pending to succeeded, failed or canceled)", data: refundData },
} as const satisfies Record<EventType, { summary: string; data: z.ZodType }>;

/** The body of a delivery of one type. */
export const eventBody = <T extends EventType>(type: T) => z.object({ type: z.literal(type), timestamp: Instant.describe("When the change happened"), data: EVENT_CATALOG[type].data });
