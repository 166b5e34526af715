/**
 * Break-even progress against the seed's targets (definitions.ts TARGETS), and the 12-month MRR
 * forecast the projections come from.
 */
import { sql } from "drizzle-orm";
import { TARGETS } from "./definitions";
import { monthLabel, monthOf, monthStart, type MonthIndex } from "./months";
import { monthlyMovements, type MonthMovements } from "./movements";
import { currentFigures, rate, revenueByMonth } from "./report";
import type { AnalyticsDeps, ForecastPoint, TargetProgress, TargetsReport } from "./types";
import { instant } from "../instant";

const TRAILING = 3;
const HORIZON = 12;

interface Trend {
  /** new + reactivation MRR per month. */
  added: number[];
  /** (expansion + contraction + churn) ÷ opening per month. */
  netRate: number[];
  /** new + reactivated − churned customers per month. */
  customers: number[];
}

function trend(months: MonthMovements[]): Trend {
  const t = months.slice(-TRAILING);
  return {
    added: t.map((m) => m.newMrr + m.reactivation),
    netRate: t.map((m) => (m.opening === 0 ? 0 : (m.expansion + m.contraction + m.churned) / m.opening)),
    customers: t.map((m) => m.newCustomers + m.reactivatedCustomers - m.churnedCustomers),
  };
}

const avg = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : 0);

/** The next HORIZON months of MRR from `start` (the current MRR), with a low and high band. */
export function forecast(startMrr: number, nowMonth: MonthIndex, t: Trend): ForecastPoint[] {
  const step = (mrr: number, rate: number, added: number) => Math.max(0, Math.round(mrr * (1 + rate) + added));
  const mid = { rate: avg(t.netRate), added: avg(t.added) };
  const low = { rate: Math.min(0, ...t.netRate), added: Math.min(...(t.added.length ? t.added : [0])) };
  const high = { rate: Math.max(0, ...t.netRate), added: Math.max(...(t.added.length ? t.added : [0])) };
  const out: ForecastPoint[] = [];
  let m = startMrr;
  let lo = startMrr;
  let hi = startMrr;
  for (let k = 1; k <= HORIZON; k++) {
    m = step(m, mid.rate, mid.added);
    lo = step(lo, low.rate, low.added);
    hi = step(hi, high.rate, high.added);
    out.push({ period: monthLabel(nowMonth + k), mrr: m, low: Math.min(lo, m), high: Math.max(hi, m) });
  }
  return out;
}

export async function targetProgress(deps: AnalyticsDeps, opts: { currency?: string } = {}): Promise<TargetsReport> {
  const currency = (opts.currency ?? "usd").toLowerCase();
  const now = deps.clock.now();
  const nowMonth = monthOf(now);
  const first = await deps.db.get<{ at: number | null }>(sql`select min(at) as at from subscription_history where currency = ${currency} and status in ('active', 'past_due')`);
  const firstMonth = first?.at == null ? nowMonth : monthOf(Number(first.at));
  const from = Math.max(firstMonth, nowMonth - 12);
  // Complete months only for rates: the current month is still running.
  const [months, current, revenue, trials] = await Promise.all([
    nowMonth - 1 >= from ? monthlyMovements(deps.db, currency, from, nowMonth - 1) : Promise.resolve([]),
    currentFigures(deps, currency),
    revenueByMonth(deps.db, currency, firstMonth, Math.min(nowMonth, firstMonth + 11)),
    deps.db.get<{ starts: number; conversions: number }>(sql`
      select count(*) as starts, coalesce(sum(exists (select 1 from subscription_history h where h.subscription_id = s.id and h.status in ('active', 'past_due'))), 0) as conversions
      from subscriptions s where s.currency = ${currency} and s.trial_start >= ${monthStart(nowMonth - 6)} and s.trial_end <= ${now}`),
  ]);
  const t = trend(months);
  const fc = forecast(current.mrr, nowMonth, t);
  const reachMonth = (series: number[], target: number) => {
    const k = series.findIndex((v) => v >= target);
    return k === -1 ? null : monthLabel(nowMonth + k + 1);
  };
  const progress = (cur: number, target: number, dir: "at_least" | "at_most") => (dir === "at_least" ? Math.min(1, target === 0 ? 1 : cur / target) : cur <= target ? 1 : target / cur);

  const customersPerMonth = avg(t.customers);
  const customerSeries = fc.map((_, k) => current.customers + customersPerMonth * (k + 1));
  const yearOneEnd = firstMonth + 11;
  const yearOneSoFar = [...revenue.values()].reduce((a, x) => a + x, 0);
  let cumulative = yearOneSoFar;
  let revenueMonth: string | null = null;
  for (const p of fc) {
    if (cumulative >= TARGETS[2].target) break;
    const idx = monthOf(Date.parse(`${p.period}-01T00:00:00Z`));
    if (idx > yearOneEnd) break;
    // A month's revenue is taken as its forecast MRR (recurring revenue; one-offs are not forecast).
    cumulative += p.mrr;
    if (cumulative >= TARGETS[2].target) revenueMonth = p.period;
  }
  const lastChurn = months.length ? rate(months.at(-1)!.churnedCustomers, months.at(-1)!.openingCustomers) : null;
  const conversion = trials && Number(trials.starts) > 0 ? rate(Number(trials.conversions), Number(trials.starts)) : null;

  const values: Record<TargetProgress["key"], { current: number; projected: string | null }> = {
    paying_customers: { current: current.customers, projected: current.customers >= TARGETS[0].target ? monthLabel(nowMonth) : reachMonth(customerSeries, TARGETS[0].target) },
    mrr: {
      current: current.mrr,
      projected:
        current.mrr >= TARGETS[1].target
          ? monthLabel(nowMonth)
          : reachMonth(
              fc.map((p) => p.mrr),
              TARGETS[1].target,
            ),
    },
    first_year_revenue: { current: yearOneSoFar, projected: yearOneSoFar >= TARGETS[2].target ? monthLabel(Math.min(nowMonth, yearOneEnd)) : revenueMonth },
    monthly_churn: { current: lastChurn ?? 0, projected: (lastChurn ?? 0) <= TARGETS[3].target ? monthLabel(nowMonth) : null },
    trial_conversion: { current: conversion ?? 0, projected: (conversion ?? 0) >= TARGETS[4].target ? monthLabel(nowMonth) : null },
  };
  const targets = TARGETS.map((d): TargetProgress => {
    const v = values[d.key];
    const p = Math.round(progress(v.current, d.target, d.direction) * 10_000) / 10_000;
    return { key: d.key, label: d.label, direction: d.direction, target: d.target, current: v.current, progress: p, reached: p >= 1, projected_month: v.projected, unit: d.unit };
  });
  return { as_of: instant(now), currency, targets, forecast: fc };
}
