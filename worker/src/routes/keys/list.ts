import { createRoute, z } from "@hono/zod-openapi";
import { listApiKeys } from "../../auth";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { ApiKey } from "./schemas";

const ListQuery = z.strictObject({ include_revoked: z.enum(["true", "false"]).default("false") });

const route = createRoute({
  method: "get",
  path: "/v1/keys",
  ...guard("keys:manage"),
  summary: "List API keys (no secrets)",
  tags: ["keys"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(ApiKey) }), "Keys, newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const { include_revoked } = c.req.valid("query");
  return c.json({ data: await listApiKeys(c.get("services"), { includeRevoked: include_revoked === "true" }) }, 200);
});
