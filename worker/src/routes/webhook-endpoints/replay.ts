import { createRoute, z } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { InstantInput, msOf } from "../../instant";
import { replayToEndpoint } from "../../outbound";
import { IdParam } from "./schemas";

const ReplayBody = z.strictObject({ from: InstantInput, to: InstantInput }).openapi("ReplayWebhookRange");

const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints/{id}/replay",
  ...guard("webhooks:manage", { idempotent: true }),
  summary: "Send again every event of a time range (by the change's time) of a type the endpoint takes, with their original webhook-ids",
  tags: ["webhook-endpoints"],
  request: { params: IdParam, body: jsonBody(ReplayBody) },
  responses: { 200: json(z.object({ replayed: z.int().describe("Deliveries started again or made") }), "Queued; delivered in order per user"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { from, to } = c.req.valid("json");
  return c.json(await replayToEndpoint(c.get("services"), c.req.valid("param").id, msOf(from), msOf(to)), 200);
});
