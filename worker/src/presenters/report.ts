/**
 * The revenue report on the wire: GET /v1/analytics/report and the generate_revenue_report tool
 * answer with this one shape. analytics/ already builds it in wire form (amounts in integer
 * cents, `as_of` through instant()), so the presenter is its schema.
 */
import { z } from "zod";
import { PERIODS } from "../analytics";
import { Instant } from "../instant";

const Cents = z.int().describe("Integer minor units of the report's currency");
const RateOrNull = z.number().nullable().describe("A decimal rate (0.05 = 5 %); null when there is nothing to divide by");

export const ReportRow = z.object({
  period: z.string().describe("YYYY-MM, YYYY-Qn or YYYY"),
  opening_mrr: Cents,
  new_mrr: Cents,
  expansion_mrr: Cents,
  contraction_mrr: Cents.describe("≤ 0"),
  churned_mrr: Cents.describe("≤ 0"),
  reactivation_mrr: Cents,
  closing_mrr: Cents,
  customers: z.int(),
  new_customers: z.int(),
  churned_customers: z.int(),
  reactivated_customers: z.int(),
  arpu: Cents,
  logo_churn_rate: RateOrNull,
  gross_revenue_churn_rate: RateOrNull,
  net_revenue_churn_rate: RateOrNull,
  net_revenue_retention: RateOrNull,
  quick_ratio: RateOrNull,
  trial_starts: z.int(),
  trial_conversions: z.int(),
  trial_conversion_rate: RateOrNull,
  revenue: Cents,
  refunded: Cents,
  disputes_opened: z.int().describe("Disputes opened in the period"),
  disputes_lost: z.int().describe("Disputes closed as lost in the period"),
  dispute_rate: RateOrNull.describe("Disputes opened ÷ charges (paid invoices that took money) in the period, a decimal fraction (0.005 = 0.5 %); null without charges"),
  dispute_fees: Cents.describe("Stripe's fees of the disputes opened in the period"),
  early_fraud_warnings: z.int().describe("Radar early fraud warnings raised in the period on charges in the report's currency"),
  ltv: Cents.nullable(),
  marketing_spend: Cents.nullable(),
  cac: Cents.nullable(),
});

const Tier = z.object({ customers: z.int(), mrr: Cents });

export const RevenueReport = z.object({
  currency: z.string(),
  period: z.enum(PERIODS),
  from: z.string().describe("First month, YYYY-MM"),
  to: z.string().describe("Last month, YYYY-MM"),
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
    by_tier: z.record(z.string(), Tier),
    by_status: z.record(z.string(), z.int()),
    seats: z
      .object({ organizations: z.int(), sold: z.int(), assigned: z.int() })
      .describe("Organizations whose seats count in MRR now (each one customer of by_tier.agency), the seats they bought and those held by members"),
  }),
  rows: z.array(ReportRow),
  dunning: z.union([z.object({ available: z.literal(true), cases: z.int(), recovered: z.int(), recovery_rate: z.number() }), z.object({ available: z.literal(false), reason: z.string() })]),
});
