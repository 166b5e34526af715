import { createRoute, z } from "@hono/zod-openapi";
import { checkFeature } from "../../entitlements";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { UserId } from "../../fields";
import { Offer } from "./schemas";

const CheckBody = z.strictObject({ user_id: UserId, feature: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be a feature key like nationwide_job_search") }).openapi("CheckRequest");
const Decision = z
  .object({
    allowed: z.boolean(),
    reason: z.string(),
    message: z.string().optional(),
    upgrade: Offer.optional(),
    billing_url: z.string().optional(),
    grace_until: z.int().nullable().optional(),
    trial_end: z.int().nullable().optional(),
    as_of: z.int().nullable().describe("Unix seconds: when the data behind the decision was read (an online check reads it now)"),
  })
  .openapi("Decision");

const route = createRoute({
  method: "post",
  path: "/v1/entitlements/check",
  ...guard("entitlements:read"),
  summary: "May this user use this feature now? (online check)",
  tags: ["entitlements"],
  request: { body: jsonBody(CheckBody) },
  responses: { 200: json(Decision, "The decision, with an upgrade prompt when denied"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { user_id, feature } = c.req.valid("json");
  const { allowed, reason, message, upgrade, billing_url, grace_until, trial_end, as_of } = await checkFeature(c.get("services"), user_id, feature);
  return c.json({ allowed, reason, message, upgrade, billing_url, grace_until, trial_end, as_of }, 200);
});
