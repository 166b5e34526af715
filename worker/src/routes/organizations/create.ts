import { createRoute, z } from "@hono/zod-openapi";
import { createOrganization } from "../../organizations";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors, named } from "../../http/schemas";
import { Organization, presentOrganization } from "../../presenters";
import { Email, OrgId, OrgName, PoNumber, PostalAddress, Seats, TaxExempt, TaxIdEin, TermMonths, TestClockId } from "../../fields";

const Body = z
  .strictObject({
    org_id: OrgId,
    name: OrgName,
    billing_email: Email.describe("Where invoices and reminders go"),
    address: PostalAddress,
    tax_id: TaxIdEin.optional(),
    tax_exempt: TaxExempt.default(false),
    po_number: PoNumber.optional(),
    seats: Seats,
    term_months: TermMonths,
    test_clock: TestClockId.optional().describe("A Stripe test clock for the organization's new customer (test mode only)"),
  })
  .openapi("OrganizationRequest");

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
  const view = await createOrganization(c.get("services"), actorOf(c), {
    orgId: b.org_id,
    name: b.name,
    billingEmail: b.billing_email,
    address: b.address,
    taxId: b.tax_id,
    taxExempt: b.tax_exempt,
    poNumber: b.po_number,
    seats: b.seats,
    termMonths: b.term_months,
    testClock: b.test_clock,
  });
  return c.json(presentOrganization(view), 201);
});
