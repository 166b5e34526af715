import { createRoute, z } from "@hono/zod-openapi";
import { createRefund } from "../../refunds";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named, notFoundProblem, problem } from "../../http/schemas";
import { presentRefund, Refund } from "../../presenters";
import { EndAccess, InvoiceId, RefundAmount, RefundReason } from "../../fields";

const Body = z
  .strictObject({
    invoice_id: InvoiceId,
    amount: RefundAmount.optional(),
    reason: RefundReason,
    end_access: EndAccess.optional(),
  })
  .openapi("RefundRequest");

const route = createRoute({
  method: "post",
  path: "/v1/refunds",
  ...guard("billing:write", { idempotent: true }),
  summary: "Refund a paid invoice, in full or in part, as a Stripe credit note with a refund; the refund policy decides what happens to access",
  tags: ["billing"],
  request: { body: jsonBody(Body) },
  responses: {
    201: json(named(Refund, "Refund"), "Refunded; the invoice shows the credit note"),
    ...keyedErrors,
    ...notFoundProblem,
    ...conflictProblem,
    422: problem("More than the invoice paid and has not yet had back (`refund_exceeds_paid`, naming `amount`); nothing was changed"),
  },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  const refund = await createRefund(c.get("services"), actorOf(c), { invoiceId: body.invoice_id, amount: body.amount, reason: body.reason, endAccess: body.end_access });
  return c.json(presentRefund(refund), 201);
});
