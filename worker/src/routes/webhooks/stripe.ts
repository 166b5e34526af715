import { createRoute, z } from "@hono/zod-openapi";
import { receiveWebhook } from "../../stripe-sync";
import { guard, handle } from "../../http/route";
import { json, ProblemSchema } from "../../http/schemas";

const Received = z
  .object({
    received: z.literal(true),
    duplicate: z.boolean().openapi({
      description:
        "true: this event id was already stored, nothing changed. false: accepted; since ingestion goes through a queue, a duplicate is usually only recognised later (by the consumer, where it changes nothing), so false does not promise the event is new.",
    }),
  })
  .openapi("WebhookReceived");

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const route = createRoute({
  method: "post",
  path: "/webhooks/stripe",
  ...guard("stripe_signature"),
  // Read as raw bytes by the handler (the signature covers them), so not declared as a JSON body.
  "x-raw-body": true as const,
  summary: "Stripe webhook endpoint (signed)",
  tags: ["webhooks"],
  responses: {
    200: json(Received, "Durably accepted (queued for storage, or stored); storing and processing continue after the answer"),
    400: {
      description: "Bad or stale signature, malformed JSON, or not a well-formed event (evt_ id, dotted lowercase type, numeric created, data.object); nothing stored",
      content: { "application/problem+json": { schema: ProblemSchema } },
    },
    413: { description: "Body over 1 MiB", content: { "application/problem+json": { schema: ProblemSchema } } },
  },
});

export default handle(route, async (c) => {
  // The signature covers the exact bytes: read the raw body and parse nothing before it checks out.
  const { duplicate } = await receiveWebhook(c.get("services"), await c.req.text(), c.req.header("stripe-signature"));
  return c.json({ received: true as const, duplicate }, 200);
});
