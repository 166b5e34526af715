import { createRoute, z } from "@hono/zod-openapi";
import { changeSubscription } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, notFoundProblem, paymentFailedProblem, unprocessableProblem } from "../../http/schemas";
import { DomainError, isDomainError } from "../../errors";
import { presentChangePreview, presentSubscription } from "../../presenters";
import { InstantInput, secondsOf } from "../../instant";
import type { ChangePreview } from "../../subscriptions";
import { ChangeFields, SubscriptionView, UserIdParam } from "./schemas";

// Its own object rather than ChangeBody.extend(): an extended schema becomes an allOf in the
// OpenAPI document, whose parts each forbid the other's fields.
const Body = z
  .strictObject({
    ...ChangeFields,
    expected_amount_due_now: z
      .int()
      .nonnegative()
      .optional()
      .openapi({ description: "The preview's `amount_due_now` the user agreed to; a fresh preview must match it or nothing changes (409 amount-changed)" }),
    proration_date: InstantInput.optional().describe("The preview's `proration_date`, so the change is prorated at the previewed moment (inside the current period, at most an hour old)"),
  })
  .openapi("ChangeConfirmation");

const route = createRoute({
  method: "post",
  path: "/v1/subscriptions/{user_id}/change",
  ...guard("billing:write", { idempotent: true }),
  summary: "Change the tier or billing cycle as the catalog's policy says (now, or at the period end)",
  tags: ["billing"],
  request: { params: UserIdParam, body: jsonBody(Body) },
  responses: { 200: json(SubscriptionView, "The subscription after the change"), ...keyedErrors, ...paymentFailedProblem, ...notFoundProblem, ...conflictProblem, ...unprocessableProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const body = c.req.valid("json");
  const view = await changeSubscription(c.get("services"), actorOf(c), user_id, {
    tier: body.tier,
    billingCycle: body.billing_cycle,
    expectedAmountDueNow: body.expected_amount_due_now,
    prorationDate: body.proration_date === undefined ? undefined : secondsOf(body.proration_date),
  }).catch((e: unknown) => {
    // The 409 carries the fresh preview in the same shape as the preview route's answer.
    if (!isDomainError(e, "amount_changed")) throw e;
    const fresh = e.details.extensions?.preview as ChangePreview;
    throw new DomainError(e.code, e.message, { ...e.details, extensions: { ...e.details.extensions, preview: presentChangePreview(fresh) } });
  });
  return c.json(presentSubscription(view), 200);
});
