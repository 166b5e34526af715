import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { retryDelivery } from "../../outbound";
import { DeliveryParams, WebhookDelivery } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
  ...guard("webhooks:manage", { idempotent: true }),
  summary: "Send one delivery again now, with its event's original webhook-id (a new retry round)",
  tags: ["webhook-endpoints"],
  request: { params: DeliveryParams },
  responses: { 200: json(WebhookDelivery, "The delivery after this attempt (an endpoint that is disabled keeps it pending)"), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
});

export default handle(route, async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  return c.json(await retryDelivery(c.get("services"), id, delivery_id), 200);
});
