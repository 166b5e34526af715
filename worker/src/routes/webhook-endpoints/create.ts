import { createRoute, z } from "@hono/zod-openapi";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { WebhookUrl } from "../../fields";
import { createEndpoint } from "../../outbound";
import { CreatedWebhookEndpoint, EventTypes } from "./schemas";

const CreateBody = z
  .strictObject({
    url: WebhookUrl,
    events: EventTypes,
    description: z.string().trim().min(1).max(500).optional(),
  })
  .openapi("CreateWebhookEndpoint");

// No Idempotency-Key, as for API keys: the answer carries the secret, which the key's stored answer would keep in plain.
const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints",
  ...guard("webhooks:manage"),
  summary: "Register an endpoint for outbound webhooks (its signing secret is shown once)",
  tags: ["webhook-endpoints"],
  request: { body: jsonBody(CreateBody) },
  responses: { 201: json(CreatedWebhookEndpoint, "Created; the signing secret is in `secret`"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  const created = await createEndpoint(c.get("services"), actorOf(c), body);
  c.header("cache-control", "no-store");
  return c.json(created, 201);
});
