import { createRoute, z } from "@hono/zod-openapi";
import { listMembers } from "../../organizations";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { OrganizationMember, presentMemberPage } from "../../presenters";
import { pageLimit, UserId } from "../../fields";
import { OrgIdParam } from "./schemas";

const ListQuery = z.strictObject({
  limit: pageLimit(100, 20),
  starting_after: UserId.optional().describe("A member's user id: the page after it (cursor)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/organizations/{org_id}/members",
  ...guard("billing:read"),
  summary: "Who holds the organization's seats, newest assignment first",
  tags: ["organizations"],
  request: { params: OrgIdParam, query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(named(OrganizationMember, "OrganizationMember")), has_more: z.boolean() }), "Newest first"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { org_id } = c.req.valid("param");
  const q = c.req.valid("query");
  return c.json(presentMemberPage(await listMembers(c.get("services"), org_id, { limit: q.limit, startingAfter: q.starting_after })), 200);
});
