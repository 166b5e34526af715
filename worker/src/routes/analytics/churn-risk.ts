import { createRoute, z } from "@hono/zod-openapi";
import { churnRisk, type ChurnRiskReason } from "../../analytics";
import { pageLimit } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant } from "../../instant";

const Query = z.strictObject({
  limit: pageLimit(500, 50),
  min_score: z.coerce.number().int().min(0).max(100).default(1).describe("Only customers scoring at least this"),
});

const REASON_CODES = [
  "past_due",
  "card_expiring",
  "recent_downgrade",
  "pending_cancellation",
  "retention_offer_taken",
  "failed_payments",
  "short_tenure",
] as const satisfies readonly ChurnRiskReason["code"][];
const Reason = z.object({ code: z.enum(REASON_CODES), weight: z.int(), detail: z.string() });

const route = createRoute({
  method: "get",
  path: "/v1/analytics/churn-risk",
  ...guard("analytics:read"),
  summary: "Paying and trialing customers most at risk of churning, each with a score (0–100) and its reasons",
  tags: ["analytics"],
  request: { query: Query },
  responses: {
    200: json(
      z.object({
        as_of: Instant,
        customers: z.array(
          z.object({
            customer_id: z.string(),
            user_id: z.string().nullable(),
            subscription_id: z.string(),
            tier: z.string().nullable(),
            status: z.string(),
            mrr: z.int(),
            score: z.int(),
            reasons: z.array(Reason),
          }),
        ),
      }),
      "Highest score first",
    ),
    ...keyedErrors,
  },
});

export default handle(route, async (c) => c.json(await churnRisk(c.get("services"), c.req.valid("query")), 200));
