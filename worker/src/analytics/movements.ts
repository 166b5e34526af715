/**
 * MRR at month ends and its movements per customer, aggregated in SQL: the heavy part of every
 * report. A customer's MRR at a month end is the sum over their subscriptions of the latest
 * history row before it (counted by definitions.countedMrr, zero while suspended); each
 * customer's change from one month end to the next is one movement, so the movements of a month
 * add up to the change of the total exactly.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { countedMrr, SUSPENSIONS } from "./definitions";
import { monthStart, type MonthIndex } from "./months";

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

/** The boundaries as a VALUES list of our own integers (D1 binds at most 100 parameters). */
function boundaries(from: MonthIndex, to: MonthIndex): SQL {
  const rows: string[] = [];
  for (let i = 0; i <= to - from + 1; i++) rows.push(`(${i}, ${monthStart(from + i)})`);
  return sql.raw(`values ${rows.join(", ")}`);
}

/**
 * The customer × month-end snapshots as CTEs `b` (i, at), `h` (history intervals), `snap`
 * (i, customer_id, mrr), `fp` (customer's first paid moment). Boundary i is the start of month
 * from + i: snapshot i is the state just before it, i.e. at the end of month from + i − 1.
 */
export function snapshotCtes(currency: string, from: MonthIndex, to: MonthIndex): SQL {
  return sql`b(i, at) as (${boundaries(from, to)}),
  h as materialized (
    select subscription_id, customer_id, at, ${countedMrr(sql`status`, sql`mrr`)} as m,
      lead(at) over (partition by subscription_id order by at, id) as next_at
    from subscription_history where currency = ${currency}
  ),
  susp as materialized (${SUSPENSIONS}),
  snap as materialized (
    select b.i as i, h.customer_id as customer_id,
      sum(case when h.m > 0 and exists (select 1 from susp where susp.subscription_id = h.subscription_id and susp.from_at < b.at and (susp.to_at is null or susp.to_at >= b.at)) then 0 else h.m end) as mrr
    from h join b on h.at < b.at and (h.next_at is null or h.next_at >= b.at)
    group by b.i, h.customer_id
  ),
  fp as (select customer_id, min(at) as at from h where m > 0 group by customer_id)`;
}

interface Row {
  i: number;
  opening: number;
  closing: number;
  new_mrr: number;
  expansion: number;
  contraction: number;
  churned: number;
  reactivation: number;
  opening_customers: number;
  customers: number;
  new_customers: number;
  churned_customers: number;
  reactivated_customers: number;
}

export async function monthlyMovements(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<MonthMovements[]> {
  const rows = await db.all<Row>(sql`with ${snapshotCtes(currency, from, to)},
  mv as (select i, customer_id, mrr as closing, lag(mrr, 1, 0) over (partition by customer_id order by i) as opening from snap)
  select mv.i as i,
    sum(mv.opening) as opening,
    sum(mv.closing) as closing,
    sum(case when mv.opening = 0 and mv.closing > 0 and fp.at >= bp.at then mv.closing else 0 end) as new_mrr,
    sum(case when mv.opening > 0 and mv.closing > mv.opening then mv.closing - mv.opening else 0 end) as expansion,
    sum(case when mv.closing > 0 and mv.closing < mv.opening then mv.closing - mv.opening else 0 end) as contraction,
    sum(case when mv.opening > 0 and mv.closing = 0 then -mv.opening else 0 end) as churned,
    sum(case when mv.opening = 0 and mv.closing > 0 and fp.at < bp.at then mv.closing else 0 end) as reactivation,
    sum(mv.opening > 0) as opening_customers,
    sum(mv.closing > 0) as customers,
    sum(mv.opening = 0 and mv.closing > 0 and fp.at >= bp.at) as new_customers,
    sum(mv.opening > 0 and mv.closing = 0) as churned_customers,
    sum(mv.opening = 0 and mv.closing > 0 and fp.at < bp.at) as reactivated_customers
  from mv join b bp on bp.i = mv.i - 1 left join fp on fp.customer_id = mv.customer_id
  where mv.i > 0
  group by mv.i`);
  const byI = new Map(rows.map((r) => [Number(r.i), r]));
  const out: MonthMovements[] = [];
  for (let i = 1; i <= to - from + 1; i++) {
    const r = byI.get(i);
    const n = (v: number | undefined) => Number(v ?? 0);
    out.push({
      month: from + i - 1,
      opening: n(r?.opening), closing: n(r?.closing), newMrr: n(r?.new_mrr), expansion: n(r?.expansion), contraction: n(r?.contraction), churned: n(r?.churned), reactivation: n(r?.reactivation),
      openingCustomers: n(r?.opening_customers), customers: n(r?.customers), newCustomers: n(r?.new_customers), churnedCustomers: n(r?.churned_customers), reactivatedCustomers: n(r?.reactivated_customers),
    });
  }
  return out;
}
