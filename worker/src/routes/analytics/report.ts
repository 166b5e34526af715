import { createRoute, z } from "@hono/zod-openapi";
import { PERIODS, revenueReport, type ReportRow, type RevenueReport } from "../../analytics";
import { GrossMargin } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { CurrencyParam, MonthParam, Report } from "./schemas";

const Query = z.strictObject({
  period: z.enum(PERIODS).default("monthly"),
  from: MonthParam.optional().describe("First month, YYYY-MM; default: 11 months before to"),
  to: MonthParam.optional().describe("Last month, YYYY-MM; default: this month"),
  gross_margin: GrossMargin(z.coerce.number()).optional(),
  currency: CurrencyParam,
});

const route = createRoute({
  method: "get",
  path: "/v1/analytics/report",
  ...guard("analytics:read"),
  summary: "MRR and its movements, customers, churn, retention, trials, revenue, LTV and CAC per month, quarter or year (JSON, or CSV with Accept: text/csv)",
  tags: ["analytics"],
  request: { query: Query },
  responses: {
    200: { description: "The report; amounts in integer cents", content: { "application/json": { schema: Report }, "text/csv": { schema: z.string() } } },
    ...keyedErrors,
  },
});

const COLUMNS: (keyof ReportRow)[] = [
  "period",
  "opening_mrr",
  "new_mrr",
  "expansion_mrr",
  "contraction_mrr",
  "churned_mrr",
  "reactivation_mrr",
  "closing_mrr",
  "customers",
  "new_customers",
  "churned_customers",
  "reactivated_customers",
  "arpu",
  "logo_churn_rate",
  "gross_revenue_churn_rate",
  "net_revenue_churn_rate",
  "net_revenue_retention",
  "quick_ratio",
  "trial_starts",
  "trial_conversions",
  "trial_conversion_rate",
  "revenue",
  "refunded",
  "disputes_opened",
  "disputes_lost",
  "dispute_rate",
  "dispute_fees",
  "early_fraud_warnings",
  "ltv",
  "marketing_spend",
  "cac",
];

/** One line per period, amounts in cents as in the JSON; an empty cell where the JSON has null. */
export function reportCsv(r: RevenueReport): string {
  const lines = [["currency", ...COLUMNS].join(",")];
  for (const row of r.rows) lines.push([r.currency, ...COLUMNS.map((k) => (row[k] === null ? "" : String(row[k])))].join(","));
  return `${lines.join("\r\n")}\r\n`;
}

const wantsCsv = (accept: string | undefined) => /(^|,)\s*text\/csv\b/i.test(accept ?? "");

export default handle(route, async (c) => {
  const q = c.req.valid("query");
  const report = await revenueReport(c.get("services"), { period: q.period, from: q.from, to: q.to, gross_margin: q.gross_margin, currency: q.currency });
  if (wantsCsv(c.req.header("accept"))) {
    return c.body(reportCsv(report), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="revenue-${report.period}-${report.from}-${report.to}.csv"`,
    }) as never;
  }
  return c.json(report, 200);
});
