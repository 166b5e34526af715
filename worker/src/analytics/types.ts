/**
 * The analytics contract: the objects `revenueReport`, `cohortReport`, `churnRisk` and
 * `targetProgress` return. Keys are snake_case because these objects are the API's JSON as they
 * are (the routes and the dashboard serialise them unchanged). Amounts are integer cents in
 * `currency`, rates are decimals (0.05 = 5 %), periods are labelled `YYYY-MM`, `YYYY-Qn` or `YYYY`.
 */
import type { Services } from "../services";

/** What every analytics function needs: the database and "now". */
export type AnalyticsDeps = Pick<Services, "db" | "clock">;

export const PERIODS = ["monthly", "quarterly", "annual"] as const;
export type Period = (typeof PERIODS)[number];

/** A calendar month in UTC, `YYYY-MM`. */
export type Month = string;

export interface ReportQuery {
  period: Period;
  /** First month included, `YYYY-MM`; default: 11 months before `to`. */
  from?: Month;
  /** Last month included, `YYYY-MM` (≥ from, at most 10 years after it); default: the clock's month. */
  to?: Month;
  /** Gross margin for LTV, 0 < m ≤ 1; default DEFAULT_GROSS_MARGIN. */
  gross_margin?: number;
  /** Default `usd`: subscriptions and invoices in other currencies are not summed in. */
  currency?: string;
}

export interface TierFigures {
  customers: number;
  mrr: number;
}

export interface CurrentFigures {
  /** As of the clock's now. */
  as_of: string;
  mrr: number;
  arr: number;
  /** Customers with MRR > 0. */
  customers: number;
  arpu: number;
  /** Subscriptions in trial now. */
  trialing: number;
  /** Subscriptions past due now (suspended ones included; they count no MRR). */
  past_due: number;
  by_tier: Record<string, TierFigures>;
  /** Customers by the status of their subscription that matters most (active > past_due > trialing > …). */
  by_status: Record<string, number>;
  /** Organizations whose seats count in MRR now, their seats bought and the seats held by members. */
  seats: { organizations: number; sold: number; assigned: number };
}

export interface ReportRow {
  period: string;
  opening_mrr: number;
  /** Movements are signed: contraction and churn are ≤ 0, so opening + movements = closing. */
  new_mrr: number;
  expansion_mrr: number;
  contraction_mrr: number;
  churned_mrr: number;
  reactivation_mrr: number;
  closing_mrr: number;
  /** Paying customers (MRR > 0) at the period's end. */
  customers: number;
  new_customers: number;
  churned_customers: number;
  reactivated_customers: number;
  arpu: number;
  logo_churn_rate: number | null;
  gross_revenue_churn_rate: number | null;
  net_revenue_churn_rate: number | null;
  net_revenue_retention: number | null;
  quick_ratio: number | null;
  trial_starts: number;
  /** Of the trials started in this period, how many have converted to paid by now. */
  trial_conversions: number;
  trial_conversion_rate: number | null;
  /** Paid in the period (invoices by paid date), tax excluded. */
  revenue: number;
  /** Refunded in the period (succeeded refunds by the day they were made), tax included as the refund gave it back. */
  refunded: number;
  /** Disputes opened in the period (Stripe's creation time). */
  disputes_opened: number;
  /** Disputes closed as lost in the period. */
  disputes_lost: number;
  /** Disputes opened ÷ charges (paid invoices that took money) in the period, a decimal fraction (0.005 = 0.5 %); null without charges. */
  dispute_rate: number | null;
  /** Stripe's fees of the disputes opened in the period. */
  dispute_fees: number;
  /** Radar early fraud warnings raised in the period on charges in the report's currency. */
  early_fraud_warnings: number;
  /** ARPU × gross margin ÷ monthly gross revenue churn; null without churn. */
  ltv: number | null;
  /** Marketing spend entered for the period; null when none was entered. */
  marketing_spend: number | null;
  /** Spend ÷ new customers; null without spend or without new customers. */
  cac: number | null;
}

export type DunningFigures = { available: true; cases: number; recovered: number; recovery_rate: number } | { available: false; reason: string };

export interface RevenueReport {
  currency: string;
  period: Period;
  from: Month;
  to: Month;
  gross_margin: number;
  definitions: Record<string, string>;
  current: CurrentFigures;
  rows: ReportRow[];
  dunning: DunningFigures;
}

export interface CohortQuery {
  /** Default: 11 months before `to`. */
  from?: Month;
  /** Default: the clock's month. */
  to?: Month;
  currency?: string;
}

export interface CohortRow {
  /** The month of the customers' first paid month-end. */
  cohort: Month;
  customers: number;
  /** MRR of the cohort at the end of its first month. */
  mrr: number;
  /** Index k: k months after the cohort month (0 = the cohort month itself), up to `to`. */
  customers_retained: number[];
  customer_retention: number[];
  mrr_retained: number[];
  revenue_retention: number[];
}

export interface CohortReport {
  currency: string;
  from: Month;
  to: Month;
  cohorts: CohortRow[];
}

export interface ChurnRiskQuery {
  /** Most at risk first; default 50. */
  limit?: number;
  /** Only customers scoring at least this; default 1. */
  min_score?: number;
}

export interface ChurnRiskReason {
  code: "past_due" | "card_expiring" | "recent_downgrade" | "pending_cancellation" | "retention_offer_taken" | "failed_payments" | "short_tenure";
  weight: number;
  detail: string;
}

export interface ChurnRiskCustomer {
  customer_id: string;
  user_id: string | null;
  subscription_id: string;
  tier: string | null;
  status: string;
  mrr: number;
  /** 0–100: the sum of the reasons' weights, capped. */
  score: number;
  reasons: ChurnRiskReason[];
}

export interface ChurnRiskReport {
  as_of: string;
  customers: ChurnRiskCustomer[];
}

export interface TargetProgress {
  key: "paying_customers" | "mrr" | "first_year_revenue" | "monthly_churn" | "trial_conversion";
  label: string;
  /** `at_least` targets are reached from below, `at_most` ones (churn) from above. */
  direction: "at_least" | "at_most";
  target: number;
  current: number;
  /** 0–1: how far along (1 once reached). */
  progress: number;
  reached: boolean;
  /** The month the target is reached or projected to be (from the forecast); null when not within the forecast. */
  projected_month: Month | null;
  unit: "customers" | "cents" | "rate";
}

export interface ForecastPoint {
  period: Month;
  mrr: number;
  low: number;
  high: number;
}

export interface TargetsReport {
  as_of: string;
  currency: string;
  targets: TargetProgress[];
  forecast: ForecastPoint[];
}
