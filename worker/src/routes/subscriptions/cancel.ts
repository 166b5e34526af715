import { createRoute, z } from "@hono/zod-openapi";
import { requestCancellation } from "../../subscriptions";
import { CANCELLATION_REASONS } from "../../db/schema";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { presentCancelResult } from "../../presenters";
import { CancelResult, UserIdParam } from "./schemas";

const Body = z
  .strictObject({
    reason: z.enum(CANCELLATION_REASONS).openapi({ description: "Why the user leaves (Stripe's cancellation feedback values); stored for churn analysis" }),
    feedback: z.string().trim().min(1).max(2000).optional().openapi({ description: "The user's own words" }),
    skip_offer: z.boolean().optional().openapi({ description: "Cancel without showing the retention offer" }),
  })
  .openapi("CancelRequest");

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/cancel",
  ...guard("billing:write", { idempotent: true }),
  summary: "Cancel at the period end, showing the retention offer first (once per user)",
  tags: ["billing"],
  request: { params: UserIdParam, body: jsonBody(Body) },
  responses: { 200: json(CancelResult, "Either the offer (nothing canceled yet) or the cancellation"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const body = c.req.valid("json");
  return c.json(presentCancelResult(await requestCancellation(c.get("services"), actorOf(c), user_id, { reason: body.reason, feedback: body.feedback, skipOffer: body.skip_offer })), 200);
});
