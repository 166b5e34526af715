import { createRoute, z } from "@hono/zod-openapi";
import { openPortal } from "../../subscriptions";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { ReturnUrl, UserId } from "../../fields";

const PortalBody = z.strictObject({ user_id: UserId, return_url: ReturnUrl.optional() }).openapi("PortalRequest");
const PortalSession = z.object({ url: z.url() }).openapi("PortalSession");

const route = createRoute({
  method: "post",
  path: "/v1/portal",
  ...guard("billing:write"),
  summary: "A Stripe billing portal session for the user's customer",
  tags: ["billing"],
  request: { body: jsonBody(PortalBody) },
  responses: { 200: json(PortalSession, "Send the user to `url`"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  const result = await openPortal(c.get("services"), { userId: body.user_id, returnUrl: body.return_url });
  c.header("cache-control", "no-store");
  return c.json({ url: result.url }, 200);
});
