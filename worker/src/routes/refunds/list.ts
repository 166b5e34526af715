import { createRoute, z } from "@hono/zod-openapi";
import { listRefunds } from "../../refunds";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named } from "../../http/schemas";
import { presentRefundPage, Refund } from "../../presenters";
import { pageLimit, UserId } from "../../fields";

const ListQuery = z.strictObject({
  user_id: UserId,
  limit: pageLimit(100, 20),
  starting_after: z.string().min(1).max(255).optional().describe("A refund id: the page after it (cursor)"),
});

const route = createRoute({
  method: "get",
  path: "/v1/refunds",
  ...guard("billing:read"),
  summary: "A user's refunds, newest first: made through the API or in the Stripe dashboard (amounts in integer cents)",
  tags: ["billing"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(named(Refund, "Refund")), has_more: z.boolean() }), "Newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  return c.json(presentRefundPage(await listRefunds(c.get("services").db, q.user_id, { limit: q.limit, startingAfter: q.starting_after })), 200);
});
