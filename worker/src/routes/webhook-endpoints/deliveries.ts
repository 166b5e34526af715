import { createRoute, z } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { pageLimit } from "../../fields";
import { listDeliveries } from "../../outbound";
import { IdParam, WebhookDelivery } from "./schemas";

const ListQuery = z.strictObject({
  limit: pageLimit(100, 20),
  starting_after: z
    .string()
    .regex(/^whd_[0-9a-f]{24}$/, "must be a delivery id like whd_...")
    .optional()
    .describe("A delivery id: the page after it (cursor)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints/{id}/deliveries",
  ...guard("webhooks:manage"),
  summary: "An endpoint's deliveries, newest event first, each with every attempt (status, duration, answer excerpt)",
  tags: ["webhook-endpoints"],
  request: { params: IdParam, query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(WebhookDelivery), has_more: z.boolean() }), "Newest event first"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  return c.json(await listDeliveries(c.get("services"), c.req.valid("param").id, { limit: q.limit, startingAfter: q.starting_after }), 200);
});
