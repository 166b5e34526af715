import { createRoute, z } from "@hono/zod-openapi";
import { renewOrganization } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { presentRenewal, RenewalSchema } from "../../presenters";
import { OrgId, PoNumber, Seats, TermMonths } from "../../fields";

const Body = z
  .strictObject({
    term_months: TermMonths.optional().describe("The next term's months (default: the current term's)"),
    seats: Seats.optional().describe("The next term's seats (default: the seats asked for the next term, else the current seats); never below those assigned"),
    po_number: PoNumber.optional().describe("The next term's purchase order number (default: the current one)"),
  })
  .openapi("RenewalRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations/{org_id}/renew",
  ...guard("billing:write", { idempotent: true }),
  summary: "Renew an organization for a next term from the current term's end: no gap in access, its own invoice on net terms, no automatic renewal after it",
  tags: ["organizations"],
  request: { params: z.object({ org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }) }), body: jsonBody(Body) },
  responses: { 200: json(named(RenewalSchema, "Renewal"), "The next term and Stripe's preview of its invoice"), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
});

export default handle(route, async (c) => {
  const b = c.req.valid("json");
  const renewal = await renewOrganization(c.get("services"), actorOf(c), c.req.valid("param").org_id, { termMonths: b.term_months, seats: b.seats, poNumber: b.po_number });
  return c.json(presentRenewal(renewal), 200);
});
