import { createRoute, z } from "@hono/zod-openapi";
import { listInvoices } from "../../subscriptions";
import { INVOICE_STATUSES } from "../../db/schema";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { pageLimit, UserId } from "../../fields";

const UnixSeconds = z.int().describe("Unix time in seconds");

const Invoice = z
  .object({
    id: z.string(),
    number: z.string().nullable(),
    status: z.enum(INVOICE_STATUSES),
    amount_due: z.int(),
    amount_paid: z.int(),
    subtotal: z.int(),
    tax: z.int(),
    total: z.int(),
    currency: z.string(),
    period_start: UnixSeconds.nullable(),
    period_end: UnixSeconds.nullable(),
    hosted_invoice_url: z.string().nullable(),
    lines: z.array(z.object({ description: z.string().nullable(), amount: z.int(), proration: z.boolean() })),
  })
  .openapi("InvoiceView");

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
  return c.json(await listInvoices(c.get("services"), q.user_id, { limit: q.limit, startingAfter: q.starting_after }), 200);
});
