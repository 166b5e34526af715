import { createRoute, z } from "@hono/zod-openapi";
import { sendEvidence } from "../../evidence";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors, named, notFoundProblem, problem } from "../../http/schemas";
import { DisputeEvidenceAnswer, presentDisputeEvidence } from "../../presenters";
import { DisputeId, SubmitEvidence } from "../../fields";

const Params = z.object({ id: DisputeId.openapi({ param: { name: "id", in: "path" } }) });
const Body = z.strictObject({ submit: SubmitEvidence.optional() }).openapi("DisputeEvidenceRequest");

const route = createRoute({
  method: "post",
  path: "/v1/disputes/{id}/evidence",
  ...guard("disputes:evidence", { idempotent: true }),
  summary:
    "Build a dispute's evidence from the system's own records (the customer, the service period, the access log, the terms shown at checkout, earlier payments) and send it to Stripe, staged or submitted",
  tags: ["billing"],
  request: { params: Params, body: jsonBody(Body) },
  responses: {
    200: json(named(DisputeEvidenceAnswer, "DisputeEvidence"), "The evidence as sent, and the access checks it counts"),
    ...keyedErrors,
    ...notFoundProblem,
    409: problem(
      "The dispute takes no evidence: closed or already under review (`dispute_closed`), past its evidence due date (`evidence_past_due`), or its charge paid no invoice (`conflict`); nothing was sent",
    ),
  },
});

export default handle(route, async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  return c.json(presentDisputeEvidence(await sendEvidence(c.get("services"), actorOf(c), { disputeId: id, submit: body.submit ?? false })), 200);
});
