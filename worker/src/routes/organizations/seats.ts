import { createRoute, z } from "@hono/zod-openapi";
import { addSeats } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, named, notFoundProblem, problem, unprocessableProblem } from "../../http/schemas";
import { Organization, presentOrganization } from "../../presenters";
import { Seats } from "../../fields";
import { OrgIdParam } from "./schemas";

const Body = z
  .strictObject({
    seats: Seats.describe("The new total of seats"),
    expected_amount_due_now: z
      .int()
      .min(0)
      .max(1_000_000_000)
      .optional()
      .describe("What the buyer was shown for the rest of the term (integer cents): a fresh preview must agree, else 409 `amount_changed` and nothing changes"),
  })
  .openapi("OrganizationSeatsRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations/{org_id}/seats",
  ...guard("billing:write", { idempotent: true }),
  summary: "More seats now, with a prorated invoice for the rest of the term on the same net terms (the amount is Stripe's preview)",
  tags: ["organizations"],
  request: { params: OrgIdParam, body: jsonBody(Body) },
  responses: {
    200: json(named(Organization, "Organization"), "The organization with its new seats and the prorated invoice"),
    ...keyedErrors,
    ...notFoundProblem,
    409: problem("The amount changed since the preview (`amount_changed`), fewer seats than now (they start at renewal), fewer than are assigned, or the term has ended (`conflict`)"),
    ...unprocessableProblem,
  },
});

export default handle(route, async (c) => {
  const { org_id } = c.req.valid("param");
  const body = c.req.valid("json");
  return c.json(presentOrganization(await addSeats(c.get("services"), actorOf(c), org_id, { seats: body.seats, expectedAmountDueNow: body.expected_amount_due_now })), 200);
});
