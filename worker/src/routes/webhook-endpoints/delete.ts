import { createRoute } from "@hono/zod-openapi";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { keyedErrors, notFoundProblem } from "../../http/schemas";
import { deleteEndpoint } from "../../outbound";
import { IdParam } from "./schemas";

const route = createRoute({
  method: "delete",
  path: "/v1/webhook-endpoints/{id}",
  ...guard("webhooks:manage"),
  summary: "Delete an endpoint with its deliveries: nothing more is sent to it",
  tags: ["webhook-endpoints"],
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  await deleteEndpoint(c.get("services"), actorOf(c), c.req.valid("param").id);
  return c.body(null, 204);
});
