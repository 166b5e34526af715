import { z } from "@hono/zod-openapi";
import { isStripeEventType } from "../billing/event-types";
import { storeEvent } from "../billing/events";
import { needsProcessing, processEvent } from "../billing/process";
import { stripeClient } from "../billing/stripe";
import { verifyWebhook } from "../billing/verify-webhook";
import { getDb } from "../db/client";
import { stripeConfig, webhookConfig } from "../env";
import { ApiError } from "../http/errors";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { json, ProblemSchema } from "../http/schemas";

const Received = z.object({ received: z.literal(true), duplicate: z.boolean() }).openapi("WebhookReceived");
export type WebhookReceivedResponse = z.infer<typeof Received>;

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const route = defineRoute("webhooksStripe", {
  request: { headers: z.object({ "stripe-signature": z.string().optional() }) },
  responses: {
    200: json(Received, "Stored (or already stored); processing continues after the answer"),
    400: { description: "Bad or stale signature, malformed JSON, or not a Stripe event; nothing stored", content: { "application/problem+json": { schema: ProblemSchema } } },
    413: { description: "Body over 1 MiB", content: { "application/problem+json": { schema: ProblemSchema } } },
  },
});

export const webhooks = newRouter().openapi(route, async (c) => {
  const secrets = webhookConfig(c.env).STRIPE_WEBHOOK_SECRETS;
  // The signature covers the exact bytes: read the raw body and parse nothing before it checks out.
  const raw = await c.req.text();
  const event = await verifyWebhook(raw, c.req.header("stripe-signature"), secrets);
  if (typeof event.id !== "string" || !event.id.startsWith("evt_") || typeof event.type !== "string" || !isStripeEventType(event.type) || typeof event.created !== "number" || !event.data?.object) {
    throw new ApiError("validation_failed", `This is not a Stripe event this endpoint accepts (type ${JSON.stringify(event.type)}).`, { errors: [{ field: "body.type", message: "not a Stripe event type" }] });
  }
  const db = getDb(c.env.DB);
  const now = c.get("now");
  const work = needsProcessing(event.type);
  const stored = await storeEvent(db, event, raw, "webhook", now, work);
  if (stored && work) {
    const stripe = stripeClient(stripeConfig(c.env));
    c.executionCtx.waitUntil(processEvent({ db, stripe, now: Date.now }, event.id).catch((e: unknown) => console.error(JSON.stringify({ level: "error", event: event.id, error: String(e) }))));
  }
  return c.json({ received: true as const, duplicate: !stored }, 200);
});
