import { createRoute } from "@hono/zod-openapi";
import { organizationView } from "../../organizations";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { Organization, presentOrganization } from "../../presenters";
import { OrgIdParam } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/v1/organizations/{org_id}",
  ...guard("billing:read"),
  summary: "An organization: its seats, those assigned, its term and its invoices (read from Stripe)",
  tags: ["organizations"],
  request: { params: OrgIdParam },
  responses: { 200: json(named(Organization, "Organization"), "The organization"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  return c.json(presentOrganization(await organizationView(c.get("services"), c.req.valid("param").org_id)), 200);
});
