import { createRoute, z } from "@hono/zod-openapi";
import { recordPayment } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named, notFoundProblem } from "../../http/schemas";
import { OrganizationPayment, presentPayment } from "../../presenters";
import { InvoiceId, OrgId, OutOfBandMethod, PaymentReference } from "../../fields";

const Params = z.object({
  org_id: OrgId.openapi({ param: { name: "org_id", in: "path" } }),
  invoice_id: InvoiceId.openapi({ param: { name: "invoice_id", in: "path" } }),
});

const Body = z.strictObject({ method: OutOfBandMethod, reference: PaymentReference }).openapi("OrganizationPaymentRequest");

const route = createRoute({
  method: "post",
  path: "/v1/organizations/{org_id}/invoices/{invoice_id}/payments",
  ...guard("billing:write", { idempotent: true }),
  summary: "Record a payment the organization made outside Stripe (ACH, check, Treasury): the invoice is marked paid out of band, audited with who recorded it",
  tags: ["organizations"],
  request: { params: Params, body: jsonBody(Body) },
  responses: { 201: json(named(OrganizationPayment, "OrganizationPayment"), "Recorded; the invoice is paid"), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
});

export default handle(route, async (c) => {
  const { org_id, invoice_id } = c.req.valid("param");
  const body = c.req.valid("json");
  return c.json(presentPayment(await recordPayment(c.get("services"), actorOf(c), org_id, invoice_id, body)), 201);
});
