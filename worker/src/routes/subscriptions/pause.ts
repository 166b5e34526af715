import { createRoute, z } from "@hono/zod-openapi";
import { pauseSubscription } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem, unprocessableProblem } from "../../http/schemas";
import { presentSubscription } from "../../presenters";
import { InstantInput, secondsOf } from "../../instant";
import { SubscriptionView, UserIdParam } from "./schemas";

const Body = z
  .strictObject({ resume_at: InstantInput.optional().describe("When collection resumes by itself (in the future; Stripe keeps whole seconds); omitted: until resumed") })
  .openapi("PauseRequest");

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/pause",
  ...guard("billing:write", { idempotent: true }),
  summary: "Pause payment collection (invoices made meanwhile are voided)",
  tags: ["billing"],
  request: { params: UserIdParam, body: { required: false, content: { "application/json": { schema: Body } } } },
  responses: { 200: json(SubscriptionView, "The paused subscription"), ...keyedErrors, ...notFoundProblem, ...unprocessableProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const body = c.req.valid("json") ?? {};
  return c.json(presentSubscription(await pauseSubscription(c.get("services"), actorOf(c), user_id, { resumeAt: body.resume_at === undefined ? undefined : secondsOf(body.resume_at) })), 200);
});
