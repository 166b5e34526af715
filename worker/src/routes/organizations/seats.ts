import { createRoute, z } from "@hono/zod-openapi";
import { changeSeats } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named, notFoundProblem, unprocessableProblem } from "../../http/schemas";
import { presentSeatsChange, SeatsChangeSchema } from "../../presenters";
import { OrgId, Seats } from "../../fields";

const Body = z
  .strictObject({
    seats: Seats.describe("The new total: more take effect now on a prorated invoice, fewer at the term's end"),
    expected_amount_due_now: z
      .int()
      .nonnegative()
      .optional()
      .openapi({ description: "The prorated amount (cents) the buyer agreed to; Stripe's fresh preview must match it or nothing changes (409 amount-changed, with the fresh amount)" }),
  })
  .openapi("SeatsRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations/{org_id}/seats",
  ...guard("billing:write", { idempotent: true }),
  summary: "Change an organization's seats: more now with a prorated invoice on net terms, fewer at the term's end (never below those assigned)",
  tags: ["organizations"],
  request: { params: z.object({ org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }) }), body: jsonBody(Body) },
  responses: {
    200: json(named(SeatsChangeSchema, "SeatsChange"), "The seats now, those of the next term, and the prorated invoice of added seats"),
    ...keyedErrors,
    ...notFoundProblem,
    ...conflictProblem,
    ...unprocessableProblem,
  },
});

export default handle(route, async (c) => {
  const b = c.req.valid("json");
  const change = await changeSeats(c.get("services"), actorOf(c), c.req.valid("param").org_id, { seats: b.seats, expectedAmountDueNow: b.expected_amount_due_now });
  return c.json(presentSeatsChange(change), 200);
});
