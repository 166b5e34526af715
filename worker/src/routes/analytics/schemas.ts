import { z } from "@hono/zod-openapi";
import { Currency, Month } from "../../fields";
import { Instant } from "../../instant";

export const MonthParam = Month.describe("A calendar month (UTC), YYYY-MM");
const Cents = z.int().describe("Integer minor units of the report's currency");
const RateOrNull = z.number().nullable().describe("A decimal rate (0.05 = 5 %); null when there is nothing to divide by");

export const CurrencyParam = Currency.default("usd").describe("ISO 4217; only amounts in it are summed");

export const ReportRow = z
  .object({
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
    ltv: Cents.nullable(),
    marketing_spend: Cents.nullable(),
    cac: Cents.nullable(),
  })
  .openapi("AnalyticsReportRow");

const Tier = z.object({ customers: z.int(), mrr: Cents });

export const Report = z
  .object({
    currency: z.string(),
    period: z.enum(["monthly", "quarterly", "annual"]),
    from: z.string(),
    to: z.string(),
    gross_margin: z.number(),
    definitions: z.record(z.string(), z.string()),
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
    }),
    rows: z.array(ReportRow),
    dunning: z.union([z.object({ available: z.literal(true), cases: z.int(), recovered: z.int(), recovery_rate: z.number() }), z.object({ available: z.literal(false), reason: z.string() })]),
  })
  .openapi("AnalyticsReport");
