/**
 * MRR at month ends and its movements per customer: the heavy part of every report and of the
 * cohorts. A customer's MRR at a month end is the sum over their subscriptions of what counts then
 * (definitions.countedMrr within the subscription's paid dates, zero while suspended); each
 * customer's change from one month end to the next is one movement, so the movements of a month
 * add up to the change of the total exactly.
 *
 * The per-customer timeline is derived when its inputs are written, not per report: the table
 * customer_mrr_months holds, per customer and UTC month with a change, the net change `d`, the
 * `closing` MRR and `paid_change_before`, kept by triggers (migrations/0017_analytics_mrr_triggers.sql,
 * where the rules of the timeline are written) in the same transaction as every write to
 * subscription_history, subscriptions, dunning_cases and dunning_steps. A report reads one index
 * range of months.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import type { MonthIndex } from "./months";

export interface MonthMovements {
  month: MonthIndex;
  opening: number;
  closing: number;
  newMrr: number;
  expansion: number;
  contraction: number;
  churned: number;
  reactivation: number;
  openingCustomers: number;
  customers: number;
  newCustomers: number;
  churnedCustomers: number;
  reactivatedCustomers: number;
}

interface Row {
  i: number;
  d: number;
  closing_zero: number;
  customers_zero: number;
  new_mrr: number;
  expansion: number;
  contraction: number;
  churned: number;
  reactivation: number;
  new_customers: number;
  churned_customers: number;
  reactivated_customers: number;
}

/**
 * Each customer's MRR when the range starts: the closing of their last month with a change
 * before `from` (MonthIndex and customer_mrr_months.month count months the same way).
 */
function before(currency: string, from: MonthIndex): SQL {
  return sql`select customer_id, max(month) as month, closing from customer_mrr_months where currency = ${currency} and month < ${from} group by customer_id`;
}

/**
 * The CTEs every MRR figure comes from (see monthlyMovements): `cf(customer_id, i, d, opening, fi)`,
 * one row per customer and month index with a change (0 = before `from`, holding the MRR then),
 * its change `d`, the customer's MRR at the start of that month `opening`, and `fi`, the first
 * month index ending with MRR.
 */
export function customerMonths(currency: string, from: MonthIndex, to: MonthIndex): SQL {
  return sql`
  cmx as (
    select customer_id, 0 as i, closing as d, 0 as opening from (${before(currency, from)})
    union all
    select customer_id, month - ${from - 1}, d, closing - d from customer_mrr_months where currency = ${currency} and month between ${from} and ${to}
  ),
  cf as (select customer_id, i, d, opening, min(case when opening + d > 0 then i end) over (partition by customer_id) as fi from cmx)`;
}

/**
 * The months of the range with their movements, from customer_mrr_months: the customers' MRR when
 * the range starts, then each customer's change in each month classified against their MRR at the
 * start of it. Customers with no change in a month have no movement in it.
 */
export async function monthlyMovements(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<MonthMovements[]> {
  // A month's change is new when the customer had not been paying at any month end of the range
  // before it nor when it started (paid_change_before: the latest earlier month with a change
  // made while paying), reactivation when they had.
  const rows = await db.all<Row>(sql`
  select 0 as i, 0 as d, sum(closing) as closing_zero, sum(closing > 0) as customers_zero,
    0 as new_mrr, 0 as expansion, 0 as contraction, 0 as churned, 0 as reactivation, 0 as new_customers, 0 as churned_customers, 0 as reactivated_customers
  from (${before(currency, from)})
  union all
  select month - ${from - 1} as i,
    sum(d),
    0,
    0,
    sum(case when closing = d and d > 0 and not coalesce(paid_change_before >= ${from}, 0) then d else 0 end),
    sum(case when closing > d and d > 0 then d else 0 end),
    sum(case when closing > 0 and d < 0 then d else 0 end),
    sum(case when closing = 0 and d < 0 then d else 0 end),
    sum(case when closing = d and d > 0 and coalesce(paid_change_before >= ${from}, 0) then d else 0 end),
    sum(closing = d and d > 0 and not coalesce(paid_change_before >= ${from}, 0)),
    sum(closing = 0 and d < 0),
    sum(closing = d and d > 0 and coalesce(paid_change_before >= ${from}, 0))
  from customer_mrr_months
  where currency = ${currency} and month between ${from} and ${to}
  group by month`);
  const byI = new Map(rows.map((r) => [Number(r.i), r]));
  const n = (v: number | null | undefined) => Number(v ?? 0);
  const zero = byI.get(0);
  let opening = n(zero?.closing_zero);
  let openingCustomers = n(zero?.customers_zero);
  const out: MonthMovements[] = [];
  for (let i = 1; i <= to - from + 1; i++) {
    const r = byI.get(i);
    const m = {
      month: from + i - 1,
      opening,
      newMrr: n(r?.new_mrr),
      expansion: n(r?.expansion),
      contraction: n(r?.contraction),
      churned: n(r?.churned),
      reactivation: n(r?.reactivation),
      openingCustomers,
      newCustomers: n(r?.new_customers),
      churnedCustomers: n(r?.churned_customers),
      reactivatedCustomers: n(r?.reactivated_customers),
    };
    const closing = opening + n(r?.d);
    const customers = openingCustomers + m.newCustomers + m.reactivatedCustomers - m.churnedCustomers;
    out.push({ ...m, closing, customers });
    opening = closing;
    openingCustomers = customers;
  }
  return out;
}
