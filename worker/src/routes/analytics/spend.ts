import { createRoute, z } from "@hono/zod-openapi";
import { setMarketingSpend } from "../../analytics";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { Currency } from "../../fields";
import { MonthParam } from "./schemas";
import { Instant } from "../../instant";

const Body = z.strictObject({
  amount: z.int().min(0).max(1_000_000_000_00).describe("Marketing spend of the month, integer cents"),
  currency: Currency.default("usd"),
  note: z.string().max(500).nullable().optional(),
});

const route = createRoute({
  method: "put",
  path: "/v1/analytics/spend/{month}",
  ...guard("analytics:write", { idempotent: true }),
  summary: "Set a month's marketing spend (for CAC); replaces what was set before",
  tags: ["analytics"],
  request: { params: z.strictObject({ month: MonthParam }), body: jsonBody(Body) },
  responses: {
    200: json(z.object({ month: z.string(), currency: z.string(), amount: z.int(), note: z.string().nullable(), updated_at: Instant }).openapi("MarketingSpend"), "Stored"),
    ...keyedErrors,
  },
});

export default handle(route, async (c) => c.json(await setMarketingSpend(c.get("services"), actorOf(c), c.req.valid("param").month, c.req.valid("json")), 200));
