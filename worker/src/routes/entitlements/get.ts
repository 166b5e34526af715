import { createRoute, z } from "@hono/zod-openapi";
import { currentEntitlement } from "../../entitlements";
import { accountFlags } from "../../disputes";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named } from "../../http/schemas";
import { Entitlement, presentEntitlement } from "../../presenters";
import { UserId } from "../../fields";

const route = createRoute({
  method: "get",
  path: "/v1/entitlements/{user_id}",
  ...guard("entitlements:read"),
  summary: "A user's entitlements now (online check), with the account's flags",
  tags: ["entitlements"],
  request: { params: z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) }) },
  responses: { 200: json(named(Entitlement, "Entitlement"), "The user's entitlements"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const services = c.get("services");
  // The flags are the dispute mirror's, beside the entitlement: a flag keeps access as it is.
  const [{ state, claims }, flags] = await Promise.all([currentEntitlement(services, user_id), accountFlags(services.db, user_id)]);
  return c.json(presentEntitlement(user_id, state, claims, flags), 200);
});
