/** The revenue report: current figures, and one row per month, quarter or year of the range. */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { invalidInput } from "../errors";
import { DEFAULT_GROSS_MARGIN, DEFINITIONS } from "./definitions";
import { monthLabel, monthOf as monthIndexOf, monthStart, parseRange, periodLabel, type MonthIndex } from "./months";
import { monthlyMovements, type MonthMovements } from "./movements";
import { PERIODS, type AnalyticsDeps, type CurrentFigures, type DunningFigures, type ReportQuery, type ReportRow, type RevenueReport } from "./types";
import { instant } from "../instant";

/** Integer division rounded half up (amounts are never negative where this is used). */
export const divRound = (a: number, b: number): number => (b === 0 ? 0 : Math.round(a / b));
/** A rate to 4 decimals; null when there is nothing to divide by. */
export const rate = (a: number, b: number): number | null => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000 + 0);

/**
 * customer_current.standing, best first: a customer's status is the best of their subscriptions'
 * (migration 0022 ranks them in this order; suspended is ours, a dunning case at day 21).
 */
export const CURRENT_STANDING = ["active", "past_due", "suspended", "trialing", "paused", "unpaid", "incomplete", "canceled", "incomplete_expired"];

/**
 * The figures as of now from customer_current (one row per customer, currency and tier, kept by
 * triggers with each write): paying customers and their MRR in total and by tier, customers by
 * standing, and the subscriptions in trial or past due.
 */
export async function currentFigures(deps: AnalyticsDeps, currency: string): Promise<CurrentFigures> {
  const now = deps.clock.now();
  const rows = await deps.db.all<{ kind: string; key: string | number | null; customers: number; mrr: number | null }>(sql`
    select 'total' as kind, null as key, count(distinct customer_id) as customers, sum(mrr) as mrr from customer_current where currency = ${currency} and mrr > 0
    union all select 'standing', standing, count(*), null from (select min(standing) as standing from customer_current where currency = ${currency} group by customer_id) group by standing
    union all select 'tier', tier, count(*), sum(mrr) from customer_current where currency = ${currency} and mrr > 0 group by tier
    union all select 'status', status, count(*), null from subscriptions where currency = ${currency} and status in ('trialing', 'past_due') group by status`);
  const totals = rows.find((r) => r.kind === "total");
  const count = (status: string) => Number(rows.find((r) => r.kind === "status" && r.key === status)?.customers ?? 0);
  const mrr = Number(totals?.mrr ?? 0);
  const customers = Number(totals?.customers ?? 0);
  const byTier: Record<string, { customers: number; mrr: number }> = {};
  for (const t of rows.filter((r) => r.kind === "tier")) byTier[String(t.key)] = { customers: Number(t.customers), mrr: Number(t.mrr) };
  // An organization's subscription is one customer's with a quantity of seats; its members are ours.
  const seats = await deps.db.get<{ organizations: number; sold: number | null; assigned: number | null }>(sql`
    select count(*) as organizations, sum(s.quantity) as sold, sum((select count(*) from organization_members m where m.org_id = o.org_id)) as assigned
    from organizations o join subscriptions s on s.id = o.subscription_id
    where s.currency = ${currency} and s.mrr > 0`);
  const byStatus: Record<string, number> = {};
  for (const st of rows.filter((r) => r.kind === "standing")) {
    const name = CURRENT_STANDING[Number(st.key)] ?? "other";
    byStatus[name] = (byStatus[name] ?? 0) + Number(st.customers);
  }
  return {
    as_of: instant(now),
    mrr,
    arr: 12 * mrr,
    customers,
    arpu: divRound(mrr, customers),
    trialing: count("trialing"),
    past_due: count("past_due"),
    by_tier: byTier,
    by_status: byStatus,
    seats: { organizations: Number(seats?.organizations ?? 0), sold: Number(seats?.sold ?? 0), assigned: Number(seats?.assigned ?? 0) },
  };
}

/** Per month label: trials started then, and how many of those have converted. */
export async function trialCohorts(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<Map<string, { starts: number; conversions: number }>> {
  const rows = await db.all<{ month: string; starts: number; conversions: number }>(sql`
    select strftime('%Y-%m', s.trial_start / 1000, 'unixepoch') as month, count(*) as starts,
      sum(exists (select 1 from subscription_history h where h.subscription_id = s.id and h.status in ('active', 'past_due'))) as conversions
    from subscriptions s
    where s.currency = ${currency} and s.trial_start >= ${monthStart(from)} and s.trial_start < ${monthStart(to + 1)}
    group by month`);
  return new Map(rows.map((r) => [r.month, { starts: Number(r.starts), conversions: Number(r.conversions ?? 0) }]));
}

/** Per month label: paid invoices' totals less tax, by paid date (invoice_revenue_months, kept by triggers). */
export async function revenueByMonth(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<Map<string, number>> {
  const rows = await db.all<{ month: number; revenue: number }>(sql`select month, revenue from invoice_revenue_months where currency = ${currency} and month between ${from} and ${to}`);
  return new Map(rows.map((r) => [monthLabel(Number(r.month)), Number(r.revenue)]));
}

async function spendByMonth(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<Map<string, number>> {
  const rows = await db.all<{ month: string; amount: number }>(
    sql`select month, amount from marketing_spend where currency = ${currency} and month >= ${monthLabel(from)} and month <= ${monthLabel(to)}`,
  );
  return new Map(rows.map((r) => [r.month, Number(r.amount)]));
}

/**
 * Every dunning case and the recovered ones: the totals of dunningReport's byStage, counted in one
 * query (the dunning report's open list and decline codes are not part of this report).
 */
async function dunningFigures(db: Db): Promise<DunningFigures> {
  const r = await db.get<{ cases: number; recovered: number | null }>(sql`select count(*) as cases, sum(status = 'recovered') as recovered from dunning_cases`);
  const cases = Number(r?.cases ?? 0);
  if (cases === 0) return { available: false, reason: "No dunning case has been opened yet: there is no failed payment to recover." };
  const recovered = Number(r?.recovered ?? 0);
  return { available: true, cases, recovered, recovery_rate: rate(recovered, cases) ?? 0 };
}

export function checkMargin(margin: number | undefined): number {
  const m = margin ?? DEFAULT_GROSS_MARGIN;
  if (!Number.isFinite(m) || m <= 0 || m > 1)
    throw invalidInput("gross_margin", "must be a decimal in (0, 1]", `gross_margin must be a decimal greater than 0 and at most 1 (0.8 = 80 %), not ${margin}.`);
  return m;
}

/**
 * Per month label: what succeeded refunds gave back, by the month they were made (Stripe's time,
 * so a customer on a test clock refunds in that clock's month). Read from the mirror's refunds by
 * their created index: refunds are few beside invoices.
 */
export async function refundedByMonth(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<Map<string, number>> {
  const rows = await db.all<{ y: number; m: number; refunded: number }>(sql`
    select cast(strftime('%Y', created_at / 1000, 'unixepoch') as integer) as y, cast(strftime('%m', created_at / 1000, 'unixepoch') as integer) as m, sum(amount) as refunded
    from refunds where currency = ${currency} and status = 'succeeded' and created_at >= ${monthStart(from)} and created_at < ${monthStart(to + 1)}
    group by y, m`);
  return new Map(rows.map((r) => [monthLabel(Number(r.y) * 12 + Number(r.m) - 1), Number(r.refunded)]));
}

/** A month's disputes and early fraud warnings, and the charges they are measured against. */
export interface RiskFacts {
  /** Paid invoices with a charge (amount paid > 0), by paid date. */
  charges: number;
  disputesOpened: number;
  disputesLost: number;
  /** Stripe's dispute fees of the disputes opened in the month, in cents. */
  disputeFees: number;
  earlyFraudWarnings: number;
}

const monthOf = (column: string) => sql.raw(`cast(strftime('%Y', ${column} / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', ${column} / 1000, 'unixepoch') as integer) - 1`);

/**
 * Per month label, in the report's currency: charges (paid invoices that took money), disputes
 * opened (by Stripe's creation time) with their fees, disputes lost (by when they closed) and
 * early fraud warnings (by when the issuer raised them, in the warned charge's currency). Each
 * from its table's time index; disputes and warnings are few beside invoices.
 */
export async function riskByMonth(db: Db, currency: string, from: MonthIndex, to: MonthIndex): Promise<Map<string, RiskFacts>> {
  const lo = monthStart(from);
  const hi = monthStart(to + 1);
  const rows = await db.all<{ kind: string; month: number; n: number; fees: number | null }>(sql`
    select 'charges' as kind, ${monthOf("paid_at")} as month, count(*) as n, null as fees from invoices
      where status = 'paid' and currency = ${currency} and amount_paid > 0 and paid_at >= ${lo} and paid_at < ${hi} group by month
    union all select 'opened', ${monthOf("created_at")}, count(*), sum(fee) from disputes where currency = ${currency} and created_at >= ${lo} and created_at < ${hi} group by 2
    union all select 'lost', ${monthOf("closed_at")}, count(*), null from disputes where currency = ${currency} and status = 'lost' and closed_at >= ${lo} and closed_at < ${hi} group by 2
    union all select 'warnings', ${monthOf("created_at")}, count(*), null from early_fraud_warnings where currency = ${currency} and created_at >= ${lo} and created_at < ${hi} group by 2`);
  const out = new Map<string, RiskFacts>();
  for (const r of rows) {
    const label = monthLabel(Number(r.month));
    const f = out.get(label) ?? { charges: 0, disputesOpened: 0, disputesLost: 0, disputeFees: 0, earlyFraudWarnings: 0 };
    if (r.kind === "charges") f.charges += Number(r.n);
    else if (r.kind === "opened") {
      f.disputesOpened += Number(r.n);
      f.disputeFees += Number(r.fees ?? 0);
    } else if (r.kind === "lost") f.disputesLost += Number(r.n);
    else f.earlyFraudWarnings += Number(r.n);
    out.set(label, f);
  }
  return out;
}

/** A currency's disputes against its charges in one month, unrounded (the alert compares it with its threshold). */
export interface MonthDisputeRate {
  currency: string;
  month: string;
  /** The month's first instant (ms, UTC). */
  monthStart: number;
  charges: number;
  disputesOpened: number;
  /** disputesOpened ÷ charges; null without charges. */
  rate: number | null;
}

/** The dispute rate of the month `now` falls in, for each currency that charged or was disputed in it. */
export async function disputeRatesOfMonth(db: Db, now: number): Promise<MonthDisputeRate[]> {
  const month = monthIndexOf(now);
  const start = monthStart(month);
  const currencies = await db.all<{ currency: string }>(sql`
    select distinct currency from invoices where status = 'paid' and amount_paid > 0 and paid_at >= ${start} and paid_at < ${monthStart(month + 1)}
    union select distinct currency from disputes where created_at >= ${start} and created_at < ${monthStart(month + 1)}`);
  const out: MonthDisputeRate[] = [];
  for (const { currency } of currencies) {
    const f = (await riskByMonth(db, currency, month, month)).get(monthLabel(month));
    const charges = f?.charges ?? 0;
    const disputesOpened = f?.disputesOpened ?? 0;
    out.push({ currency, month: monthLabel(month), monthStart: start, charges, disputesOpened, rate: charges === 0 ? null : disputesOpened / charges });
  }
  return out;
}

export async function revenueReport(deps: AnalyticsDeps, q: ReportQuery): Promise<RevenueReport> {
  if (!(PERIODS as readonly string[]).includes(q.period))
    throw invalidInput("period", `must be one of ${PERIODS.join(", ")}`, `period must be monthly, quarterly or annual, not ${JSON.stringify(q.period)}.`);
  const { from, to, label } = parseRange(q.from, q.to, deps.clock.now());
  const margin = checkMargin(q.gross_margin);
  const currency = (q.currency ?? "usd").toLowerCase();
  const [months, trials, revenue, refunded, risk, spend, current, dunning] = await Promise.all([
    monthlyMovements(deps.db, currency, from, to),
    trialCohorts(deps.db, currency, from, to),
    revenueByMonth(deps.db, currency, from, to),
    refundedByMonth(deps.db, currency, from, to),
    riskByMonth(deps.db, currency, from, to),
    spendByMonth(deps.db, currency, from, to),
    currentFigures(deps, currency),
    dunningFigures(deps.db),
  ]);
  const groups: { label: string; months: MonthMovements[] }[] = [];
  for (const m of months) {
    const label = periodLabel(m.month, q.period);
    if (groups.at(-1)?.label !== label) groups.push({ label, months: [] });
    groups.at(-1)!.months.push(m);
  }
  const rows = groups.map((g) => reportRow(g.label, g.months, { trials, revenue, refunded, risk, spend, margin }));
  return { currency, period: q.period, from: label.from, to: label.to, gross_margin: margin, definitions: DEFINITIONS, current, rows, dunning };
}

function reportRow(
  period: string,
  ms: MonthMovements[],
  facts: {
    trials: Map<string, { starts: number; conversions: number }>;
    revenue: Map<string, number>;
    refunded: Map<string, number>;
    risk: Map<string, RiskFacts>;
    spend: Map<string, number>;
    margin: number;
  },
): ReportRow {
  const sum = (f: (m: MonthMovements) => number) => ms.reduce((a, m) => a + f(m), 0);
  const first = ms[0]!;
  const last = ms.at(-1)!;
  const labels = ms.map((m) => monthLabel(m.month));
  const opening = first.opening;
  const closing = last.closing;
  const newMrr = sum((m) => m.newMrr);
  const expansion = sum((m) => m.expansion);
  const contraction = sum((m) => m.contraction);
  const churned = sum((m) => m.churned);
  const reactivation = sum((m) => m.reactivation);
  const customers = last.customers;
  const arpu = divRound(closing, customers);
  const trialStarts = labels.reduce((a, l) => a + (facts.trials.get(l)?.starts ?? 0), 0);
  const trialConversions = labels.reduce((a, l) => a + (facts.trials.get(l)?.conversions ?? 0), 0);
  const spent = labels.filter((l) => facts.spend.has(l));
  const spend = spent.length ? spent.reduce((a, l) => a + facts.spend.get(l)!, 0) : null;
  const newCustomers = sum((m) => m.newCustomers);
  const risk = (f: (r: RiskFacts) => number) => labels.reduce((a, l) => a + (facts.risk.has(l) ? f(facts.risk.get(l)!) : 0), 0);
  const disputesOpened = risk((r) => r.disputesOpened);
  // LTV uses a monthly churn rate: a quarter's or year's losses averaged over its months.
  const monthlyGrossChurn = rate(-(churned + contraction), opening * ms.length);
  return {
    period,
    opening_mrr: opening,
    new_mrr: newMrr,
    expansion_mrr: expansion,
    contraction_mrr: contraction,
    churned_mrr: churned,
    reactivation_mrr: reactivation,
    closing_mrr: closing,
    customers,
    new_customers: newCustomers,
    churned_customers: sum((m) => m.churnedCustomers),
    reactivated_customers: sum((m) => m.reactivatedCustomers),
    arpu,
    logo_churn_rate: rate(
      sum((m) => m.churnedCustomers),
      first.openingCustomers,
    ),
    gross_revenue_churn_rate: rate(-(churned + contraction), opening),
    net_revenue_churn_rate: rate(-(churned + contraction + expansion + reactivation), opening),
    net_revenue_retention: rate(opening + expansion + contraction + churned, opening),
    quick_ratio: rate(newMrr + expansion + reactivation, -(contraction + churned)),
    trial_starts: trialStarts,
    trial_conversions: trialConversions,
    trial_conversion_rate: rate(trialConversions, trialStarts),
    revenue: labels.reduce((a, l) => a + (facts.revenue.get(l) ?? 0), 0),
    refunded: labels.reduce((a, l) => a + (facts.refunded.get(l) ?? 0), 0),
    disputes_opened: disputesOpened,
    disputes_lost: risk((r) => r.disputesLost),
    dispute_rate: rate(
      disputesOpened,
      risk((r) => r.charges),
    ),
    dispute_fees: risk((r) => r.disputeFees),
    early_fraud_warnings: risk((r) => r.earlyFraudWarnings),
    ltv: monthlyGrossChurn ? Math.round((arpu * facts.margin) / (-(churned + contraction) / (opening * ms.length))) : null,
    marketing_spend: spend,
    cac: spend !== null && newCustomers > 0 ? divRound(spend, newCustomers) : null,
  };
}
