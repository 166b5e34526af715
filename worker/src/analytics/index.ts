/**
 * Revenue analytics over the Stripe mirror: what the analytics routes and the dashboard call.
 * Each function takes `AnalyticsDeps` (db and clock) and returns the API's JSON objects
 * (analytics/types.ts). Definitions live in analytics/definitions.ts, once.
 */
export * from "./types";
export { revenueReport, disputeRatesOfMonth, type MonthDisputeRate } from "./report";
export { cohortReport } from "./cohorts";
export { churnRisk, CHURN_RISK_WEIGHTS } from "./churn-risk";
export { targetProgress, forecast } from "./targets";
export { setMarketingSpend, type SpendInput, type SpendView } from "./spend";
export { DEFINITIONS, TARGETS, DEFAULT_GROSS_MARGIN, MAX_RANGE_MONTHS } from "./definitions";
export { parseMonth, parseRange } from "./months";
export {
  revenueRecognition,
  RECOGNITION_MAX_MONTHS,
  JOURNAL_ACCOUNTS,
  type RevenueRecognition,
  type RecognitionRow,
  type JournalLine,
  type JournalAccount,
} from "./recognition";
