import { createRoute, z } from "@hono/zod-openapi";
import { acceptOffer } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { presentSubscription } from "../../presenters";
import { SubscriptionView, UserIdParam } from "./schemas";

const Body = z.strictObject({ offer_id: z.string().regex(/^offer_[a-f0-9]{32}$/, "must be an offer id (offer_...)") }).openapi("OfferAcceptRequest");

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/offer/accept",
  ...guard("billing:write", { idempotent: true }),
  summary: "Accept the retention offer: apply its downgrade or discount",
  tags: ["billing"],
  request: { params: UserIdParam, body: jsonBody(Body) },
  responses: { 200: json(SubscriptionView, "The subscription with the offer applied"), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const { offer_id } = c.req.valid("json");
  return c.json(presentSubscription(await acceptOffer(c.get("services"), actorOf(c), user_id, offer_id)), 200);
});
