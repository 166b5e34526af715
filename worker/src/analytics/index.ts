/**
 * Revenue analytics over the Stripe mirror: what the analytics routes and the dashboard call.
 * Each function takes `AnalyticsDeps` (db and clock) and returns the API's JSON objects
 * (analytics/types.ts). Definitions live in analytics/definitions.ts, once.
 */
import { DomainError } from "../errors";
import type { AnalyticsDeps, ChurnRiskQuery, ChurnRiskReport, CohortQuery, CohortReport, ReportQuery, RevenueReport, TargetsReport } from "./types";

export * from "./types";

const notYet = (what: string) => new DomainError("unavailable", `${what} is not available yet`);

export async function revenueReport(_deps: AnalyticsDeps, _q: ReportQuery): Promise<RevenueReport> {
  throw notYet("The revenue report");
}

export async function cohortReport(_deps: AnalyticsDeps, _q: CohortQuery): Promise<CohortReport> {
  throw notYet("The cohort report");
}

export async function churnRisk(_deps: AnalyticsDeps, _q: ChurnRiskQuery = {}): Promise<ChurnRiskReport> {
  throw notYet("Churn risk");
}

export async function targetProgress(_deps: AnalyticsDeps): Promise<TargetsReport> {
  throw notYet("Target progress");
}
