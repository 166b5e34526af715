import { createRoute } from "@hono/zod-openapi";
import { createOrganization, organizationInput } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named } from "../../http/schemas";
import { Organization, presentOrganization } from "../../presenters";
import { OrganizationPurchase } from "../../fields";

const Body = OrganizationPurchase.openapi("OrganizationRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations",
  ...guard("billing:write", { idempotent: true }),
  summary: "An organization buys seats for a fixed term: one invoice on net terms with its PO number, sent, not charged; no automatic renewal",
  tags: ["organizations"],
  request: { body: jsonBody(Body) },
  responses: {
    201: json(named(Organization, "Organization"), "Bought; the first invoice is sent to billing_email"),
    ...keyedErrors,
    ...conflictProblem,
  },
});

export default handle(route, async (c) => {
  const b = c.req.valid("json");
  const view = await createOrganization(c.get("services"), actorOf(c), organizationInput(b));
  return c.json(presentOrganization(view), 201);
});
