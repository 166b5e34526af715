/** Monthly cohorts: customers by their first paid month, followed month by month. */
import { sql } from "drizzle-orm";
import { rate } from "./report";
import { monthLabel, parseRange } from "./months";
import { snapshotCtes } from "./movements";
import type { AnalyticsDeps, CohortQuery, CohortReport, CohortRow } from "./types";

export async function cohortReport(deps: AnalyticsDeps, q: CohortQuery): Promise<CohortReport> {
  const { from, to, label } = parseRange(q.from, q.to, deps.clock.now());
  const currency = (q.currency ?? "usd").toLowerCase();
  // Snapshot i is the end of month from + i − 1; a cohort starts at its first paying month end,
  // and customers who had paid before the range (fp before boundary 0) belong to earlier cohorts.
  const rows = await deps.db.all<{ ci: number; i: number; customers: number; mrr: number }>(sql`with ${snapshotCtes(currency, from, to)},
  c as (select customer_id, min(i) as ci from snap where mrr > 0 and i > 0 group by customer_id)
  select c.ci as ci, snap.i as i, sum(snap.mrr > 0) as customers, sum(snap.mrr) as mrr
  from c join snap on snap.customer_id = c.customer_id and snap.i >= c.ci
  join fp on fp.customer_id = c.customer_id
  where fp.at >= (select at from b where i = 0)
  group by c.ci, snap.i order by c.ci, snap.i`);
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
