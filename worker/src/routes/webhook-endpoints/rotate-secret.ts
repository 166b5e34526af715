import { createRoute, z } from "@hono/zod-openapi";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { rotateEndpointSecret } from "../../outbound";
import { IdParam } from "./schemas";

const Rotated = z.object({ id: z.string(), secret: z.string().describe("The new whsec_ secret, shown this once") }).openapi("RotatedWebhookSecret");

// No Idempotency-Key: the answer carries the new secret (as create).
const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints/{id}/rotate-secret",
  ...guard("webhooks:manage"),
  summary: "A new signing secret now; deliveries carry the old one's signature too for 24 hours",
  tags: ["webhook-endpoints"],
  request: { params: IdParam },
  responses: { 200: json(Rotated, "The new secret"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const rotated = await rotateEndpointSecret(c.get("services"), actorOf(c), c.req.valid("param").id);
  c.header("cache-control", "no-store");
  return c.json(rotated, 200);
});
