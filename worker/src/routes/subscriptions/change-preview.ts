import { createRoute } from "@hono/zod-openapi";
import { previewChange } from "../../subscriptions";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem, unprocessableProblem } from "../../http/schemas";
import { presentChangePreview } from "../../presenters";
import { ChangeBody, ChangePreview, UserIdParam } from "./schemas";

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/change/preview",
  ...guard("billing:read"),
  summary: "What a tier or billing-cycle change would cost, from Stripe's invoice preview; changes nothing",
  tags: ["billing"],
  request: { params: UserIdParam, body: jsonBody(ChangeBody) },
  responses: { 200: json(ChangePreview, "The change's effect and amounts (integer cents)"), ...keyedErrors, ...notFoundProblem, ...unprocessableProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const body = c.req.valid("json");
  return c.json(presentChangePreview(await previewChange(c.get("services"), user_id, { tier: body.tier, billingCycle: body.billing_cycle })), 200);
});
