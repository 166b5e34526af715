/**
 * The dashboard page: the headline figures, tables and target bars as HTML, and the chart series
 * as a JSON data block (not script: the CSP allows no inline script) that
 * /dashboard/static/dashboard.js draws with uPlot.
 */
import { raw } from "hono/html";
import type { ChurnRiskReport, CohortReport, RevenueReport, TargetProgress, TargetsReport } from "../../../analytics";
import { page } from "./layout";

export interface FunnelStep {
  stage: string;
  /** Cases that got at least this far. */
  reached: number;
  /** Of those, recovered (paid) so far. */
  recovered: number;
}

export interface RecentEvent {
  at: number;
  action: string;
  subject: string;
  actor: string;
}

/** A section whose data could not be had, and why (shown in its place). */
export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface DashboardModel {
  signedIn: { name: string; role: string };
  report: Maybe<RevenueReport>;
  cohorts: Maybe<CohortReport>;
  risk: Maybe<ChurnRiskReport>;
  targets: Maybe<TargetsReport>;
  funnel: Maybe<{ steps: FunnelStep[]; open: number }>;
  recent: Maybe<RecentEvent[]>;
}

/** Integer cents as dollars, exactly: no floating point between the report and the page. */
export function money(cents: number, currency: string): string {
  const abs = Math.abs(cents);
  const whole = Math.trunc(abs / 100).toLocaleString("en-US");
  const body = `${whole}.${String(abs % 100).padStart(2, "0")}`;
  const sign = cents < 0 ? "-" : "";
  return currency.toLowerCase() === "usd" ? `${sign}$${body}` : `${sign}${body} ${currency.toUpperCase()}`;
}

export const percent = (rate: number | null): string => (rate === null ? "n/a" : `${(Math.round(rate * 1000) / 10).toFixed(1)} %`);

const count = (n: number) => n.toLocaleString("en-US");

/** JSON inside a <script type="application/json">: `<` escaped so no `</script>` can close it early. */
function dataBlock(value: unknown) {
  return raw(JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026"));
}

function Unavailable(props: { reason: string }) {
  return <p class="unavailable">Not available: {props.reason}</p>;
}

function Metric(props: { name: string; label: string; value: number; text: string }) {
  return (
    <div class="metric">
      <dt>{props.label}</dt>
      <dd data-metric={props.name} data-value={String(props.value)}>
        {props.text}
      </dd>
    </div>
  );
}

function Headline(props: { report: RevenueReport }) {
  const { current, currency } = props.report;
  return (
    <section class="headline" aria-label="Now">
      <dl>
        <Metric name="mrr" label="MRR" value={current.mrr} text={money(current.mrr, currency)} />
        <Metric name="arr" label="ARR" value={current.arr} text={money(current.arr, currency)} />
        <Metric name="customers" label="Paying customers" value={current.customers} text={count(current.customers)} />
        <Metric name="arpu" label="ARPU" value={current.arpu} text={money(current.arpu, currency)} />
        <Metric name="trialing" label="In trial" value={current.trialing} text={count(current.trialing)} />
        <Metric name="past_due" label="Past due" value={current.past_due} text={count(current.past_due)} />
        <Metric name="agencies" label="Agencies" value={current.seats.organizations} text={count(current.seats.organizations)} />
        <Metric name="seats" label="Seats (held)" value={current.seats.sold} text={`${count(current.seats.sold)} (${count(current.seats.assigned)})`} />
      </dl>
      <p class="asof">
        As of {current.as_of} · {Object.entries(current.by_tier).map(([tier, t]) => `${tier}: ${count(t.customers)} (${money(t.mrr, currency)})`).join(" · ")}
      </p>
    </section>
  );
}

function Chart(props: { id: string; title: string; note?: string }) {
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div class="plot" data-chart={props.id} />
      {props.note ? <p class="note">{props.note}</p> : null}
    </figure>
  );
}

function targetValue(t: TargetProgress, currency: string): string {
  if (t.unit === "cents") return money(t.current, currency);
  if (t.unit === "rate") return percent(t.current);
  return count(t.current);
}

function targetGoal(t: TargetProgress, currency: string): string {
  const v = t.unit === "cents" ? money(t.target, currency) : t.unit === "rate" ? percent(t.target) : count(t.target);
  return `${t.direction === "at_most" ? "≤" : "≥"} ${v}`;
}

function Targets(props: { targets: TargetsReport }) {
  return (
    <ul class="targets">
      {props.targets.targets.map((t) => (
        <li data-target={t.key} class={t.reached ? "reached" : ""}>
          <label for={`target-${t.key}`}>
            {t.label}: <strong>{targetValue(t, props.targets.currency)}</strong> of {targetGoal(t, props.targets.currency)}
          </label>
          <progress id={`target-${t.key}`} max="1" value={String(t.progress)}>
            {percent(t.progress)}
          </progress>
          <span class="projected" data-projected={t.projected_month ?? ""}>
            {t.reached ? "Reached" : t.projected_month ? `Projected ${t.projected_month}` : "Not within the 12-month forecast"}
          </span>
        </li>
      ))}
    </ul>
  );
}

function RiskTable(props: { risk: ChurnRiskReport; currency: string }) {
  if (props.risk.customers.length === 0) return <p>No customer shows a churn signal.</p>;
  return (
    <table class="risk">
      <thead>
        <tr>
          <th>Customer</th>
          <th>Tier</th>
          <th>Status</th>
          <th class="num">MRR</th>
          <th class="num">Score</th>
          <th>Why</th>
        </tr>
      </thead>
      <tbody>
        {props.risk.customers.map((r) => (
          <tr>
            <td>{r.user_id ?? r.customer_id}</td>
            <td>{r.tier ?? ""}</td>
            <td>{r.status}</td>
            <td class="num">{money(r.mrr, props.currency)}</td>
            <td class="num">{r.score}</td>
            <td>{r.reasons.map((x) => x.detail).join("; ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Money after the charge, by period: refunds, disputes against the card networks' line (the rate
 * over charges), their fees, and issuers' early fraud warnings. A rate past the network's
 * monitoring line (DISPUTE_MONITORING_RATE) is marked.
 */
export const DISPUTE_MONITORING_RATE = 0.0075;

/** A small rate to two decimals of a percent (0.0075 → "0.75 %"): dispute rates live below 1 %. */
const basisPercent = (rate: number | null): string => (rate === null ? "n/a" : `${(Math.round(rate * 10_000) / 100).toFixed(2)} %`);

function AfterTheCharge(props: { report: RevenueReport }) {
  const { rows, currency } = props.report;
  return (
    <table class="after-charge">
      <thead>
        <tr>
          <th>Period</th>
          <th class="num">Refunded</th>
          <th class="num">Disputes opened</th>
          <th class="num">Disputes lost</th>
          <th class="num">Dispute rate</th>
          <th class="num">Dispute fees</th>
          <th class="num">Early fraud warnings</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr data-period={r.period}>
            <td>{r.period}</td>
            <td class="num" data-figure="refunded" data-value={String(r.refunded)}>
              {money(r.refunded, currency)}
            </td>
            <td class="num" data-figure="disputes_opened" data-value={String(r.disputes_opened)}>
              {count(r.disputes_opened)}
            </td>
            <td class="num" data-figure="disputes_lost" data-value={String(r.disputes_lost)}>
              {count(r.disputes_lost)}
            </td>
            <td
              class={r.dispute_rate !== null && r.dispute_rate >= DISPUTE_MONITORING_RATE ? "num over" : "num"}
              data-figure="dispute_rate"
              data-value={r.dispute_rate === null ? "" : String(r.dispute_rate)}
            >
              {basisPercent(r.dispute_rate)}
            </td>
            <td class="num" data-figure="dispute_fees" data-value={String(r.dispute_fees)}>
              {money(r.dispute_fees, currency)}
            </td>
            <td class="num" data-figure="early_fraud_warnings" data-value={String(r.early_fraud_warnings)}>
              {count(r.early_fraud_warnings)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Recent(props: { events: RecentEvent[] }) {
  if (props.events.length === 0) return <p>Nothing recorded yet.</p>;
  return (
    <table class="recent">
      <thead>
        <tr>
          <th>When (UTC)</th>
          <th>What</th>
          <th>Subject</th>
          <th>By</th>
        </tr>
      </thead>
      <tbody>
        {props.events.map((e) => (
          <tr>
            <td>{new Date(e.at).toISOString().replace("T", " ").slice(0, 19)}</td>
            <td>{e.action}</td>
            <td>{e.subject}</td>
            <td>{e.actor}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What dashboard.js draws, by chart id. Amounts stay integer cents; the script formats them. */
export function chartData(m: DashboardModel) {
  const report = m.report.ok ? m.report.value : null;
  const rows = report?.rows ?? [];
  return {
    currency: report?.currency ?? "usd",
    periods: rows.map((r) => r.period),
    mrr: rows.map((r) => r.closing_mrr),
    movements: {
      new: rows.map((r) => r.new_mrr),
      expansion: rows.map((r) => r.expansion_mrr),
      reactivation: rows.map((r) => r.reactivation_mrr),
      contraction: rows.map((r) => r.contraction_mrr),
      churned: rows.map((r) => r.churned_mrr),
    },
    customers: rows.map((r) => r.customers),
    new_customers: rows.map((r) => r.new_customers),
    churned_customers: rows.map((r) => r.churned_customers),
    logo_churn_rate: rows.map((r) => r.logo_churn_rate),
    trial_starts: rows.map((r) => r.trial_starts),
    trial_conversions: rows.map((r) => r.trial_conversions),
    trial_conversion_rate: rows.map((r) => r.trial_conversion_rate),
    forecast: m.targets.ok ? m.targets.value.forecast : [],
    cohorts: m.cohorts.ok ? m.cohorts.value.cohorts.map((c) => ({ cohort: c.cohort, customers: c.customers, retention: c.customer_retention })) : [],
    funnel: m.funnel.ok ? m.funnel.value.steps : [],
  };
}

export function dashboardPage(m: DashboardModel) {
  const currency = m.report.ok ? m.report.value.currency : "usd";
  return page({
    title: "Revenue dashboard",
    signedIn: m.signedIn,
    scripts: ["dashboard.js"],
    children: (
      <>
        {m.report.ok ? <Headline report={m.report.value} /> : <Unavailable reason={m.report.reason} />}
        <div class="grid">
          {m.report.ok ? (
            <>
              <Chart id="mrr" title="MRR at each month's end" />
              <Chart id="movements" title="MRR movements: new, expansion, reactivation (up); contraction, churn (down)" />
              <Chart id="customers" title="Paying customers and logo churn" />
              <Chart id="trials" title="Trials started, converted, and conversion rate (by start month)" />
            </>
          ) : null}
          {m.targets.ok ? <Chart id="forecast" title="MRR forecast, next 12 months (low–high band)" /> : null}
          {m.cohorts.ok ? <Chart id="cohorts" title="Cohort retention (customers), by first paid month" /> : <Unavailable reason={m.cohorts.reason} />}
          {m.funnel.ok ? <Chart id="funnel" title="Dunning funnel: cases reaching each stage, and recovered" note={`Open now: ${count(m.funnel.value.open)}`} /> : <Unavailable reason={m.funnel.reason} />}
        </div>
        <section aria-label="After the charge">
          <h2>Refunds, disputes and fraud warnings</h2>
          {m.report.ok ? <AfterTheCharge report={m.report.value} /> : <Unavailable reason={m.report.reason} />}
          <p class="note">Dispute rate: disputes opened ÷ charges in the month; card networks start monitoring at {basisPercent(DISPUTE_MONITORING_RATE)}.</p>
        </section>
        <section>
          <h2>Break-even targets</h2>
          {m.targets.ok ? <Targets targets={m.targets.value} /> : <Unavailable reason={m.targets.reason} />}
        </section>
        <section>
          <h2>Churn risk</h2>
          {m.risk.ok ? <RiskTable risk={m.risk.value} currency={currency} /> : <Unavailable reason={m.risk.reason} />}
        </section>
        <section>
          <h2>Recent events</h2>
          {m.recent.ok ? <Recent events={m.recent.value} /> : <Unavailable reason={m.recent.reason} />}
        </section>
        <script type="application/json" id="dashboard-data">
          {dataBlock(chartData(m))}
        </script>
      </>
    ),
  });
}
