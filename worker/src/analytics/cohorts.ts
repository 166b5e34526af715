/** Monthly cohorts: customers by their first month ending with MRR, followed month by month. */
import { sql } from "drizzle-orm";
import { rate } from "./report";
import { monthLabel, parseRange } from "./months";
import { customerMonths } from "./movements";
import type { AnalyticsDeps, CohortQuery, CohortReport, CohortRow } from "./types";

export async function cohortReport(deps: AnalyticsDeps, q: CohortQuery): Promise<CohortReport> {
  const { from, to, label } = parseRange(q.from, q.to, deps.clock.now());
  const currency = (q.currency ?? "usd").toLowerCase();
  const months = Array.from({ length: to - from + 1 }, (_, k) => `(${k + 1})`).join(", ");
  // Month index i ends month from + i − 1. A customer's MRR at a month end is the closing of
  // their latest change up to it (customerMonths, the same facts as the report's movements).
  const rows = await deps.db.all<{ ci: number; i: number; customers: number; mrr: number }>(sql`with ${customerMonths(currency, from, to)},
  cfm as materialized (select customer_id, i, opening + d as closing, fi from cf),
  b(i) as (${sql.raw(`values ${months}`)}),
  c as materialized (select customer_id, min(fi) as ci from cfm where fi >= 1 group by customer_id),
  cell as (
    select c.ci as ci, b.i as i, (select x.closing from cfm x where x.customer_id = c.customer_id and x.i <= b.i order by x.i desc limit 1) as mrr
    from c join b on b.i >= c.ci
  )
  select ci, i, sum(mrr > 0) as customers, sum(mrr) as mrr from cell group by ci, i order by ci, i`);
  const cohorts = new Map<number, CohortRow>();
  for (const r of rows) {
    const ci = Number(r.ci);
    let row = cohorts.get(ci);
    if (!row) {
      row = { cohort: monthLabel(from + ci - 1), customers: Number(r.customers), mrr: Number(r.mrr), customers_retained: [], customer_retention: [], mrr_retained: [], revenue_retention: [] };
      cohorts.set(ci, row);
    }
    row.customers_retained.push(Number(r.customers));
    row.customer_retention.push(rate(Number(r.customers), row.customers) ?? 0);
    row.mrr_retained.push(Number(r.mrr));
    row.revenue_retention.push(rate(Number(r.mrr), row.mrr) ?? 0);
  }
  return { currency, from: label.from, to: label.to, cohorts: [...cohorts.values()] };
}
