import { createRoute, z } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { listEndpoints } from "../../outbound";
import { WebhookEndpoint } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints",
  ...guard("webhooks:manage"),
  summary: "List outbound webhook endpoints (no secrets)",
  tags: ["webhook-endpoints"],
  responses: { 200: json(z.object({ data: z.array(WebhookEndpoint) }), "Oldest first"), ...keyedErrors },
});

export default handle(route, async (c) => c.json({ data: await listEndpoints(c.get("services")) }, 200));
