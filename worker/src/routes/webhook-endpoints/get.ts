import { createRoute } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { getEndpoint } from "../../outbound";
import { IdParam, WebhookEndpoint } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints/{id}",
  ...guard("webhooks:manage"),
  summary: "One outbound webhook endpoint (no secret)",
  tags: ["webhook-endpoints"],
  request: { params: IdParam },
  responses: { 200: json(WebhookEndpoint, "The endpoint"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => c.json(await getEndpoint(c.get("services"), c.req.valid("param").id), 200));
