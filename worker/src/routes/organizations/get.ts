import { createRoute, z } from "@hono/zod-openapi";
import { organizationView } from "../../organizations";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { Organization, presentOrganization } from "../../presenters";
import { OrgId } from "../../fields";

const route = createRoute({
  method: "get",
  path: "/v1/organizations/{org_id}",
  ...guard("billing:read"),
  summary: "An organization: its seats, those assigned, its term and its invoices (read from Stripe)",
  tags: ["organizations"],
  request: { params: z.object({ org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }) }) },
  responses: { 200: json(named(Organization, "Organization"), "The organization"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  return c.json(presentOrganization(await organizationView(c.get("services"), c.req.valid("param").org_id)), 200);
});
