import { createRoute, z } from "@hono/zod-openapi";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { WebhookUrl } from "../../fields";
import { updateEndpoint } from "../../outbound";
import { EventTypes, IdParam, WebhookEndpoint } from "./schemas";

const UpdateBody = z
  .strictObject({
    url: WebhookUrl.optional(),
    events: EventTypes.optional(),
    enabled: z
      .boolean()
      .optional()
      .describe("true enables a disabled endpoint again (its failures count afresh); false stops deliveries: those owed wait; events written while disabled are not queued for it (replay sends them)"),
    description: z.string().trim().min(1).max(500).nullable().optional(),
  })
  .openapi("UpdateWebhookEndpoint");

const route = createRoute({
  method: "patch",
  path: "/v1/webhook-endpoints/{id}",
  ...guard("webhooks:manage"),
  summary: "Change an endpoint's URL, event types, description, or enable or disable it",
  tags: ["webhook-endpoints"],
  request: { params: IdParam, body: jsonBody(UpdateBody) },
  responses: { 200: json(WebhookEndpoint, "The endpoint as changed"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => c.json(await updateEndpoint(c.get("services"), actorOf(c), c.req.valid("param").id, c.req.valid("json")), 200));
