import { createRoute, z } from "@hono/zod-openapi";
import { CURSOR_PATTERN, DEFAULT_CHANGES_LIMIT, listEntitlementChanges, MAX_CHANGES_LIMIT } from "../../entitlements";
import { pageLimit } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named } from "../../http/schemas";
import { EntitlementChanges, presentEntitlementChanges } from "../../presenters";

const ChangesQuery = z.strictObject({
  after: z
    .string()
    .regex(CURSOR_PATTERN, "must be a next_cursor of an earlier answer")
    .optional()
    .describe("Cursor: `next_cursor` of the previous answer. Without it: no data, and `next_cursor` is the feed's head (start from now)"),
  limit: pageLimit(MAX_CHANGES_LIMIT, DEFAULT_CHANGES_LIMIT).describe("Change rows read (one entry per user is returned)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/entitlements/changes",
  ...guard("entitlements:read"),
  summary: "Users whose entitlements changed after a cursor, in commit order (the SDK's freshness feed)",
  tags: ["entitlements"],
  request: { query: ChangesQuery },
  responses: { 200: json(named(EntitlementChanges, "EntitlementChanges"), "One entry per user, oldest change first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  return c.json(presentEntitlementChanges(await listEntitlementChanges(c.get("services"), { after: q.after, limit: q.limit })), 200);
});
