import { createRoute, z } from "@hono/zod-openapi";
import { cohortReport } from "../../analytics";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { CurrencyParam, MonthParam } from "./schemas";

const Query = z.strictObject({ from: MonthParam.optional().describe("Default: 11 months before to"), to: MonthParam.optional().describe("Default: this month"), currency: CurrencyParam });

const Cohort = z
  .object({
    cohort: z.string().describe("First paid month, YYYY-MM"),
    customers: z.int(),
    mrr: z.int().describe("The cohort's MRR at the end of its first month, integer cents"),
    customers_retained: z.array(z.int()).describe("Index k: k months after the cohort month"),
    customer_retention: z.array(z.number()),
    mrr_retained: z.array(z.int()),
    revenue_retention: z.array(z.number()),
  })
  .openapi("AnalyticsCohort");

const route = createRoute({
  method: "get",
  path: "/v1/analytics/cohorts",
  ...guard("analytics:read"),
  summary: "Monthly cohorts by first paid month: customer and revenue retention month by month",
  tags: ["analytics"],
  request: { query: Query },
  responses: { 200: json(z.object({ currency: z.string(), from: z.string(), to: z.string(), cohorts: z.array(Cohort) }), "Cohorts, oldest first"), ...keyedErrors },
});

export default handle(route, async (c) => c.json(await cohortReport(c.get("services"), c.req.valid("query")), 200));
