import { createRoute, z } from "@hono/zod-openapi";
import { listInvoices } from "../../subscriptions";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named } from "../../http/schemas";
import { Invoice as InvoiceWire, presentInvoicePage } from "../../presenters";
import { pageLimit, UserId } from "../../fields";

const Invoice = named(InvoiceWire, "InvoiceView");

const ListQuery = z.strictObject({
  user_id: UserId,
  limit: pageLimit(100, 20),
  starting_after: z.string().min(1).max(255).optional().describe("An invoice id: the page after it (cursor)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/invoices",
  ...guard("billing:read"),
  summary: "A user's invoices with their lines, newest first (amounts in integer cents)",
  tags: ["billing"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(Invoice), has_more: z.boolean() }), "Newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  return c.json(presentInvoicePage(await listInvoices(c.get("services"), q.user_id, { limit: q.limit, startingAfter: q.starting_after })), 200);
});
