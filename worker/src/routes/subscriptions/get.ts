import { createRoute } from "@hono/zod-openapi";
import { subscriptionView } from "../../subscriptions";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { presentSubscription } from "../../presenters";
import { SubscriptionView, UserIdParam } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/subscriptions/{user_id}",
  ...guard("billing:read"),
  summary: "A user's current subscription: plan, periods, discount, scheduled change, next invoice",
  tags: ["billing"],
  request: { params: UserIdParam },
  responses: { 200: json(SubscriptionView, "The user's current subscription"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  return c.json(presentSubscription(await subscriptionView(c.get("services"), user_id)), 200);
});
