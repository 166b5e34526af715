import { createRoute } from "@hono/zod-openapi";
import { resumeSubscription } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem, unprocessableProblem } from "../../http/schemas";
import { presentSubscription } from "../../presenters";
import { SubscriptionView, UserIdParam } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/resume",
  ...guard("billing:write", { idempotent: true }),
  summary: "Resume payment collection paused with /pause",
  tags: ["billing"],
  request: { params: UserIdParam },
  responses: { 200: json(SubscriptionView, "The subscription, collecting again"), ...keyedErrors, ...notFoundProblem, ...unprocessableProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  return c.json(presentSubscription(await resumeSubscription(c.get("services"), actorOf(c), user_id)), 200);
});
