import { createRoute, z } from "@hono/zod-openapi";
import { listDisputes } from "../../disputes";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, named } from "../../http/schemas";
import { Dispute, presentDisputePage } from "../../presenters";
import { DisputeId, DisputeReason, DisputeStatus, pageLimit, UserId } from "../../fields";

const ListQuery = z.strictObject({
  status: DisputeStatus.optional(),
  reason: DisputeReason.optional(),
  user_id: UserId.optional(),
  limit: pageLimit(100, 20),
  starting_after: DisputeId.optional().describe("A dispute id: the page after it (cursor), in the same filter"),
});

const route = createRoute({
  method: "get",
  path: "/v1/disputes",
  ...guard("billing:read"),
  summary: "Disputes (chargebacks and inquiries) of the charges that paid invoices, newest first, mirrored from Stripe (amounts and fees in integer cents)",
  tags: ["billing"],
  request: { query: ListQuery },
  responses: { 200: json(z.object({ data: z.array(named(Dispute, "Dispute")), has_more: z.boolean() }), "Newest first"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const page = await listDisputes(c.get("services").db, { status: q.status, reason: q.reason, userId: q.user_id }, { limit: q.limit, startingAfter: q.starting_after });
  return c.json(presentDisputePage(page), 200);
});
