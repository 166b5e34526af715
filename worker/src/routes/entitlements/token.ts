import { createRoute, z } from "@hono/zod-openapi";
import { issueToken } from "../../entitlements";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { Instant, instant } from "../../instant";
import { UserId } from "../../fields";

const TokenBody = z.strictObject({ user_id: UserId }).openapi("TokenRequest");
const Token = z.object({ token: z.string(), expires_at: Instant }).openapi("EntitlementToken");

const route = createRoute({
  method: "post",
  path: "/v1/entitlements/token",
  ...guard("entitlements:issue"),
  summary: "Sign a short-lived entitlement token for a user",
  tags: ["entitlements"],
  request: { body: jsonBody(TokenBody) },
  responses: { 200: json(Token, "A signed EdDSA JWT"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("json");
  const { token, expiresAt } = await issueToken(c.get("services"), user_id);
  c.header("cache-control", "no-store");
  return c.json({ token, expires_at: instant(expiresAt) }, 200);
});
