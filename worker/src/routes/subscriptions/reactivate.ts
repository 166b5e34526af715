import { createRoute } from "@hono/zod-openapi";
import { reactivateSubscription } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, keyedErrors, notFoundProblem, unprocessableProblem } from "../../http/schemas";
import { presentSubscription } from "../../presenters";
import { SubscriptionView, UserIdParam } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/reactivate",
  ...guard("billing:write", { idempotent: true }),
  summary: "Undo a pending cancellation before the period ends",
  tags: ["billing"],
  request: { params: UserIdParam },
  responses: { 200: json(SubscriptionView, "The subscription, renewing again"), ...keyedErrors, ...notFoundProblem, ...conflictProblem, ...unprocessableProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  return c.json(presentSubscription(await reactivateSubscription(c.get("services"), actorOf(c), user_id)), 200);
});
