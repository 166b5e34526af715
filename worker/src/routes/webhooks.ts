import { z } from "@hono/zod-openapi";
import { isStripeEventType } from "../billing/event-types";
import { fitsQueue, storeDirectly, type EventMessage } from "../billing/ingest";
import { needsProcessing, processEvent } from "../billing/process";
import { stripeClient } from "../billing/stripe";
import { verifyWebhook } from "../billing/verify-webhook";
import { getDb } from "../db/client";
import { stripeConfig, webhookConfig } from "../env";
import { ApiError } from "../http/errors";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { json, ProblemSchema } from "../http/schemas";

const Received = z
  .object({
    received: z.literal(true),
    duplicate: z.boolean().openapi({
      description:
        "true: this event id was already stored, nothing changed. false: accepted; since ingestion goes through a queue, a duplicate is usually only recognised later (by the consumer, where it changes nothing), so false does not promise the event is new.",
    }),
  })
  .openapi("WebhookReceived");
export type WebhookReceivedResponse = z.infer<typeof Received>;

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const route = defineRoute("webhooksStripe", {
  responses: {
    200: json(Received, "Durably accepted (queued for storage, or stored); storing and processing continue after the answer"),
    400: { description: "Bad or stale signature, malformed JSON, or not a Stripe event; nothing stored", content: { "application/problem+json": { schema: ProblemSchema } } },
    413: { description: "Body over 1 MiB", content: { "application/problem+json": { schema: ProblemSchema } } },
  },
});

export const webhooks = newRouter().openapi(route, async (c) => {
  const { STRIPE_WEBHOOK_SECRETS: secrets, EVENTS: queue } = webhookConfig(c.env);
  // The signature covers the exact bytes: read the raw body and parse nothing before it checks out.
  const raw = await c.req.text();
  const event = await verifyWebhook(raw, c.req.header("stripe-signature"), secrets);
  if (typeof event.id !== "string" || !event.id.startsWith("evt_") || typeof event.type !== "string" || !isStripeEventType(event.type) || typeof event.created !== "number" || !event.data?.object) {
    throw new ApiError("validation_failed", `This is not a Stripe event this endpoint accepts (type ${JSON.stringify(event.type)}).`, { errors: [{ field: "body.type", message: "not a Stripe event type" }] });
  }
  const now = c.get("now");
  const message: EventMessage = { id: event.id, type: event.type, created: event.created, payload: raw, received_at: now };
  if (fitsQueue(message)) {
    try {
      // Durable once send resolves: the consumer (billing/ingest.ts) stores and processes it.
      await queue.send(message, { contentType: "json" });
      return c.json({ received: true as const, duplicate: false }, 200);
    } catch (error) {
      // The queue refused it: store it here instead, as before the queue existed.
      console.error(JSON.stringify({ level: "warn", event: event.id, message: "queue send failed; storing directly", error: String(error) }));
    }
  }
  const db = getDb(c.env.DB);
  const stored = await storeDirectly(db, event, raw, now);
  if (stored && needsProcessing(event.type)) {
    const stripe = stripeClient(stripeConfig(c.env));
    c.executionCtx.waitUntil(processEvent({ db, stripe, now: Date.now }, event.id).catch((e: unknown) => console.error(JSON.stringify({ level: "error", event: event.id, error: String(e) }))));
  }
  return c.json({ received: true as const, duplicate: !stored }, 200);
});
