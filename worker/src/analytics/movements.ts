/**
 * MRR at month ends and its movements per customer, aggregated in SQL: the heavy part of every
 * report and of the cohorts. A customer's MRR at a month end is the sum over their subscriptions
 * of what counts then (definitions.countedMrr within the subscription's paid dates, zero while
 * suspended); each customer's change from one month end to the next is one movement, so the
 * movements of a month add up to the change of the total exactly.
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

/**
 * The month index (1 = from, …; 0 = before from) of `at` as integer comparisons against the
 * boundaries, which costs far less per row than date functions.
 */
function monthIndexOf(from: MonthIndex, to: MonthIndex): SQL {
  const whens: string[] = [];
  for (let i = 0; i <= to - from + 1; i++) whens.push(`when at < ${monthStart(from + i)} then ${i}`);
  return sql.raw(`(case ${whens.join(" ")} else ${to - from + 2} end)`);
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
 * The CTEs every MRR figure comes from (see monthlyMovements): `cf(customer_id, i, d, opening, fi)`,
 * one row per customer and month index with a change (0 = before `from`), its change `d`, the
 * customer's MRR at the start of that month `opening`, and `fi`, the first month ending with MRR.
 */
export function customerMonths(currency: string, from: MonthIndex, to: MonthIndex): SQL {
  const end = monthStart(to + 1);
  return sql`
  -- History rows of subscriptions that were ever paid, in the order they were written (id): each
  -- is the state Stripe had when the sync fetched it, but dated by the event that made the sync
  -- look, which may be older than a row written before it; so a row takes effect no earlier than
  -- any row before it (a running max), and no earlier than the paid start; the first one counts
  -- from the paid start (the first state known). Rows from the end on are dropped.
  h as materialized (
    select h.subscription_id, h.customer_id,
      case when row_number() over w = 1 then coalesce(s.trial_end, s.created_at)
        else max(max(h.at) over (partition by h.subscription_id order by h.id rows unbounded preceding), coalesce(s.trial_end, s.created_at)) end as at,
      coalesce(s.ended_at, ${end}) as paid_end,
      ${countedMrr(sql`(case when h.status in ('canceled', 'trialing') then 'active' else h.status end)`, sql`h.mrr`)} as m,
      max(h.at) over (partition by h.subscription_id order by h.id rows unbounded preceding) as seen,
      lead(h.at) over w as next_at,
      lag(${countedMrr(sql`(case when h.status in ('canceled', 'trialing') then 'active' else h.status end)`, sql`h.mrr`)}, 1, 0) over w as prev_m
    from subscription_history h join subscriptions s on s.id = h.subscription_id
    where h.currency = ${currency} and s.status not in ('trialing', 'incomplete', 'incomplete_expired')
      and coalesce(s.ended_at, ${end}) > coalesce(s.trial_end, s.created_at) and coalesce(s.trial_end, s.created_at) < ${end}
    window w as (partition by h.subscription_id order by h.id)
  ),
  d as (
    select customer_id, at, m - prev_m as delta from h where at < paid_end
    union all
    -- The end: what counted last before it stops counting (the next row, if any, would take
    -- effect at max(seen, its date), at or past the end).
    select customer_id, paid_end, -m from h where at < paid_end and max(seen, coalesce(next_at, paid_end)) >= paid_end and paid_end < ${end}
  ),
  susp as (${SUSPENSIONS}),
  ev as (
    select customer_id, at, delta from d where delta <> 0
    union all
    select d.customer_id, s.at, s.sign * coalesce((select ${countedMrr(sql`h.status`, sql`h.mrr`)} from subscription_history h
        where h.subscription_id = s.subscription_id and h.currency = ${currency} and h.at <= s.from_at order by h.at desc, h.id desc limit 1), 0)
    from (select subscription_id, from_at, from_at as at, -1 as sign from susp union all select subscription_id, from_at, to_at, 1 from susp where to_at is not null) s
      join dunning_cases d on d.subscription_id = s.subscription_id
    where s.at < ${end}
    group by s.subscription_id, s.from_at, s.sign
  ),
  cmo as (select customer_id, ${monthIndexOf(from, to)} as i, sum(delta) as d from ev group by customer_id, i),
  cm as (
    select customer_id, i, d, coalesce(sum(d) over (partition by customer_id order by i rows between unbounded preceding and 1 preceding), 0) as opening from cmo
  ),
  -- The customer's first month ending with MRR: new there, reactivation in any later return.
  cf as (select customer_id, i, d, opening, min(case when opening + d > 0 then i end) over (partition by customer_id) as fi from cm)`;
}

/**
 * Only what changes is read: each history row's change of counted MRR against the row before it,
 * bounded by the subscription's own Stripe dates, because history rows are observations dated by
 * the event that made the sync look (a subscription first fetched after it had ended shows only
 * its end, and a late event can date a row before an earlier one): a subscription counts from its
 * paid start (trial end, else creation; never while still in trial) at the first price observed,
 * changes of price, discount or a paused/unpaid status between, and nothing from its `ended_at`
 * (Stripe's time the cancellation took effect); suspensions as changes of
 * minus the subscription's MRR then (a case closes when the invoice is paid, which the history
 * shows as no change of counted MRR, or when the subscription ends, which it shows as the drop;
 * so the close adds back what the suspension took), summed per customer and month. A customer's
 * opening in a month is the sum of their earlier changes; customers with no change in a month
 * have no movement in it. Month index 0 holds every change before `from`.
 */
export async function monthlyMovements(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<MonthMovements[]> {
  const rows = await db.all<Row>(sql`with ${customerMonths(currency, from, to)}
  select i,
    sum(d) as d,
    sum(case when i = 0 then opening + d else 0 end) as closing_zero,
    sum(i = 0 and opening + d > 0) as customers_zero,
    sum(case when opening = 0 and d > 0 and fi = i then d else 0 end) as new_mrr,
    sum(case when opening > 0 and d > 0 then d else 0 end) as expansion,
    sum(case when opening + d > 0 and d < 0 then d else 0 end) as contraction,
    sum(case when opening > 0 and opening + d = 0 then d else 0 end) as churned,
    sum(case when opening = 0 and d > 0 and fi < i then d else 0 end) as reactivation,
    sum(opening = 0 and d > 0 and fi = i) as new_customers,
    sum(opening > 0 and opening + d = 0) as churned_customers,
    sum(opening = 0 and d > 0 and fi < i) as reactivated_customers
  from cf
  group by i`);
  const byI = new Map(rows.map((r) => [Number(r.i), r]));
  const n = (v: number | null | undefined) => Number(v ?? 0);
  const zero = byI.get(0);
  let opening = n(zero?.closing_zero);
  let openingCustomers = n(zero?.customers_zero);
  const out: MonthMovements[] = [];
  for (let i = 1; i <= to - from + 1; i++) {
    const r = byI.get(i);
    const m = {
      month: from + i - 1, opening, newMrr: n(r?.new_mrr), expansion: n(r?.expansion), contraction: n(r?.contraction), churned: n(r?.churned), reactivation: n(r?.reactivation),
      openingCustomers, newCustomers: n(r?.new_customers), churnedCustomers: n(r?.churned_customers), reactivatedCustomers: n(r?.reactivated_customers),
    };
    const closing = opening + n(r?.d);
    const customers = openingCustomers + m.newCustomers + m.reactivatedCustomers - m.churnedCustomers;
    out.push({ ...m, closing, customers });
    opening = closing;
    openingCustomers = customers;
  }
  return out;
}
