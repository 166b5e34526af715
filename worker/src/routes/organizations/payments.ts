import { createRoute, z } from "@hono/zod-openapi";
import { recordPayment } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { presentRecordedPayment, RecordedPaymentSchema } from "../../presenters";
import { InvoiceId, OrgId, OutOfBandMethod, PaymentReference } from "../../fields";

const Body = z.strictObject({ method: OutOfBandMethod, reference: PaymentReference }).openapi("OutOfBandPaymentRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations/{org_id}/invoices/{invoice_id}/payments",
  ...guard("billing:write", { idempotent: true }),
  summary: "Record a payment an organization made outside Stripe (ACH, check, Treasury): the invoice is marked paid out of band, and the audit log says who recorded it",
  tags: ["organizations"],
  request: {
    params: z.object({ org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }), invoice_id: InvoiceId.openapi({ param: { name: "invoice_id", in: "path" } }) }),
    body: jsonBody(Body),
  },
  responses: {
    200: json(named(RecordedPaymentSchema, "RecordedPayment"), "The invoice, paid, and the payment as recorded"),
    ...keyedErrors,
    ...notFoundProblem,
    ...conflictProblem,
  },
});

export default handle(route, async (c) => {
  const { org_id, invoice_id } = c.req.valid("param");
  const b = c.req.valid("json");
  return c.json(presentRecordedPayment(await recordPayment(c.get("services"), actorOf(c), org_id, invoice_id, { method: b.method, reference: b.reference })), 200);
});
