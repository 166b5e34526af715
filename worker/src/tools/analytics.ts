/**
 * generate_revenue_report: the revenue report of GET /v1/analytics/report (analytics/report.ts),
 * the same function with the same options, as JSON an agent can read: amounts in integer cents.
 */
import { z } from "zod";
import { PERIODS, revenueReport } from "../analytics";
import { Currency, GrossMargin, Month } from "../fields";
import { defineTool } from "./types";
import { Instant } from "../instant";

const Rate = z.number().nullable();
const Cents = z.int();

const Input = z.strictObject({
  period: z.enum(PERIODS).describe("Rows per month, quarter or year"),
  from: Month.optional().describe("First month, YYYY-MM; default: 11 months before `to`"),
  to: Month.optional().describe("Last month, YYYY-MM; default: this month"),
  gross_margin: GrossMargin().optional(),
  currency: Currency.optional().describe("ISO 4217, default usd; only amounts in it are summed"),
});

const Row = z.object({
  period: z.string(),
  opening_mrr: Cents,
  new_mrr: Cents,
  expansion_mrr: Cents,
  contraction_mrr: Cents,
  churned_mrr: Cents,
  reactivation_mrr: Cents,
  closing_mrr: Cents,
  customers: z.int(),
  new_customers: z.int(),
  churned_customers: z.int(),
  reactivated_customers: z.int(),
  arpu: Cents,
  logo_churn_rate: Rate,
  gross_revenue_churn_rate: Rate,
  net_revenue_churn_rate: Rate,
  net_revenue_retention: Rate,
  quick_ratio: Rate,
  trial_starts: z.int(),
  trial_conversions: z.int(),
  trial_conversion_rate: Rate,
  revenue: Cents,
  ltv: Cents.nullable(),
  marketing_spend: Cents.nullable(),
  cac: Cents.nullable(),
});

const Output = z.object({
  currency: z.string(),
  period: z.enum(PERIODS),
  from: z.string(),
  to: z.string(),
  gross_margin: z.number(),
  definitions: z.record(z.string(), z.string()).describe("How each figure is computed"),
  current: z.object({
    as_of: Instant,
    mrr: Cents,
    arr: Cents,
    customers: z.int(),
    arpu: Cents,
    trialing: z.int(),
    past_due: z.int(),
    by_tier: z.record(z.string(), z.object({ customers: z.int(), mrr: Cents })),
    by_status: z.record(z.string(), z.int()),
  }),
  rows: z.array(Row),
  dunning: z.union([z.object({ available: z.literal(true), cases: z.int(), recovered: z.int(), recovery_rate: z.number() }), z.object({ available: z.literal(false), reason: z.string() })]),
});

export const generateRevenueReport = defineTool({
  name: "generate_revenue_report",
  description:
    "Revenue report from the Stripe mirror: MRR and its movements (new, expansion, contraction, churn, reactivation), customers, churn and retention rates, trials and conversions, revenue by paid date, ARPU, LTV and CAC per month, quarter or year, plus today's MRR/ARR by tier and dunning recovery. Amounts are integer cents.",
  input: Input,
  output: Output,
  permission: "analytics:read",
  twin: { method: "GET", path: "/v1/analytics/report" },
  access: "read",
  examples: [{ period: "monthly" }],
  handler: (s, input) => revenueReport(s, input),
});
