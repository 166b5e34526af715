/**
 * generate_revenue_report: the revenue report of GET /v1/analytics/report (analytics/report.ts),
 * the same function with the same options, as JSON an agent can read: amounts in integer cents.
 */
import { z } from "zod";
import { PERIODS, revenueReport } from "../analytics";
import { Currency, GrossMargin, Month } from "../fields";
import { defineTool } from "./types";
import { RevenueReport } from "../presenters";

const Input = z.strictObject({
  period: z.enum(PERIODS).describe("Rows per month, quarter or year"),
  from: Month.optional().describe("First month, YYYY-MM; default: 11 months before `to`"),
  to: Month.optional().describe("Last month, YYYY-MM; default: this month"),
  gross_margin: GrossMargin().optional(),
  currency: Currency.optional().describe("ISO 4217, default usd; only amounts in it are summed"),
});

export const generateRevenueReport = defineTool({
  name: "generate_revenue_report",
  description:
    "Revenue report from the Stripe mirror: MRR and its movements (new, expansion, contraction, churn, reactivation), customers, churn and retention rates, trials and conversions, revenue by paid date, ARPU, LTV and CAC per month, quarter or year, plus today's MRR/ARR by tier and dunning recovery. Amounts are integer cents.",
  input: Input,
  output: RevenueReport,
  permission: "analytics:read",
  twin: { method: "GET", path: "/v1/analytics/report" },
  access: "read",
  examples: [{ period: "monthly" }],
  handler: (s, input) => revenueReport(s, input),
});
