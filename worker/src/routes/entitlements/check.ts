import { createRoute, z } from "@hono/zod-openapi";
import { checkFeature } from "../../entitlements";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, named } from "../../http/schemas";
import { Decision, presentDecision } from "../../presenters";
import { UserId } from "../../fields";

const CheckBody = z.strictObject({ user_id: UserId, feature: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be a feature key like nationwide_job_search") }).openapi("CheckRequest");

const route = createRoute({
  method: "post",
  path: "/v1/entitlements/check",
  ...guard("entitlements:read"),
  summary: "May this user use this feature now? (online check)",
  tags: ["entitlements"],
  request: { body: jsonBody(CheckBody) },
  responses: { 200: json(named(Decision, "Decision"), "The decision, with an upgrade prompt when denied"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { user_id, feature } = c.req.valid("json");
  return c.json(presentDecision(await checkFeature(c.get("services"), user_id, feature)), 200);
});
