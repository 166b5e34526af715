/**
 * Revenue analytics over the Stripe mirror: what the analytics routes and the dashboard call.
 * Each function takes `AnalyticsDeps` (db and clock) and returns the API's JSON objects
 * (analytics/types.ts). Definitions live in analytics/definitions.ts, once.
 */
import { DomainError } from "../errors";
import type { AnalyticsDeps, ChurnRiskQuery, ChurnRiskReport, TargetsReport } from "./types";

export { revenueReport } from "./report";
export { cohortReport } from "./cohorts";
export { DEFINITIONS, TARGETS, DEFAULT_GROSS_MARGIN } from "./definitions";

export * from "./types";

const notYet = (what: string) => new DomainError("unavailable", `${what} is not available yet`);

export async function churnRisk(_deps: AnalyticsDeps, _q: ChurnRiskQuery = {}): Promise<ChurnRiskReport> {
  throw notYet("Churn risk");
}

export async function targetProgress(_deps: AnalyticsDeps): Promise<TargetsReport> {
  throw notYet("Target progress");
}
