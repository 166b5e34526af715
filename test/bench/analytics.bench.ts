/**
 * The monthly revenue report over a large mirror, against one full scan of its invoices.
 *
 *   node --import tsx test/bench/analytics.bench.ts     (or: npm run bench -- analytics)
 *
 * The real worker runs in workerd in-process (test/harness/worker.ts) on local D1. The mirror is
 * generated inside D1 by SQL (recursive CTEs): BENCH_ANALYTICS_SUBSCRIPTIONS subscriptions
 * (default 100,000; one customer each, a fifth on Mobile, a tenth annual, some trials, upgrades,
 * discounts that end, cancellations, past-due ones and suspensions) with their history rows, and
 * 12 invoices each (1,200,000). Then, alternating, 3 times each:
 *   report_ms   GET /v1/analytics/report?period=monthly over the 12 months of data (analyst key,
 *               over HTTP: route, validation, every query of the report), median
 *   scan_ms     one full scan of the invoices table (count and sum of a column no index holds),
 *               through the same D1, median
 *   report_ratio_vs_scan = report_ms ÷ scan_ms, goal ≤ 2.
 */
import { monthlyMovements } from "../../worker/src/analytics/movements.ts";
import { currentFigures, revenueByMonth, trialCohorts } from "../../worker/src/analytics/report.ts";
import { fixedClock } from "../../worker/src/clock.ts";
import { startWorker } from "../harness/worker.ts";
import { median, writeReport } from "./report.ts";

const SUBS = Number(process.env.BENCH_ANALYTICS_SUBSCRIPTIONS ?? 100_000);
const INVOICES_PER_SUB = 12;
const RUNS = 3;
const DAY = 86_400_000;
const BASE = Date.UTC(2025, 0, 1);

const w = await startWorker();
try {
  const t0 = performance.now();
  const CHUNK = 50_000;
  for (let lo = 0; lo < SUBS; lo += CHUNK) {
    const hi = Math.min(SUBS, lo + CHUNK) - 1;
    const n = `with recursive n(i) as (select ${lo} union all select i + 1 from n where i < ${hi})`;
    // start: spread over the first 11 months of 2025; tier, cycle and fate from i.
    const start = `(${BASE} + (i % 330) * ${DAY} + (i % 7) * 3600000)`;
    const price = `(case when i % 5 = 0 then 4900 else 2900 end)`;
    const mrr = `(case when i % 10 = 3 then ${price} * 10 / 12 else ${price} end)`;
    await w.db.batch([
      w.db.prepare(`insert into customers (id, user_id, currency, created_at, synced_at) ${n} select 'cus_b' || i, 'u_b' || i, 'usd', ${start}, ${start} from n`),
      w.db.prepare(`insert into subscriptions (id, customer_id, user_id, status, tier, price_id, interval, unit_amount, currency, mrr, trial_start, trial_end, canceled_at, ended_at, created_at, synced_at)
        ${n} select 'sub_b' || i, 'cus_b' || i, 'u_b' || i,
          case when i % 10 = 0 then 'canceled' when i % 23 = 1 then 'past_due' when i % 17 = 2 then 'trialing' else 'active' end,
          case when i % 5 = 0 then 'mobile' else 'local' end, 'price_' || (i % 5), case when i % 10 = 3 then 'year' else 'month' end,
          ${price}, 'usd', ${mrr}, case when i % 3 = 0 then ${start} end, case when i % 3 = 0 then ${start} + 7 * ${DAY} end,
          case when i % 10 = 0 then ${start} + 100 * ${DAY} end, case when i % 10 = 0 then ${start} + 100 * ${DAY} end, ${start}, ${start} from n`),
      // History: created (trialing for a third), paid after the trial, an upgrade for every 7th,
      // a 25 % discount ending for every 11th, canceled for every 10th, past due for every 23rd.
      w.db.prepare(`insert into subscription_history (subscription_id, customer_id, user_id, at, status, tier, price_id, unit_amount, currency, quantity, discount, mrr, changes, cause)
        ${n} select 'sub_b' || i, 'cus_b' || i, 'u_b' || i, ${start}, case when i % 3 = 0 then 'trialing' else 'active' end, 'local', 'p', 2900, 'usd', 1,
          case when i % 11 = 0 then 'c25' end, case when i % 11 = 0 then ${mrr} - ${mrr} / 4 else ${mrr} end, 'created', 'bench' from n
        union all select 'sub_b' || i, 'cus_b' || i, 'u_b' || i, ${start} + 7 * ${DAY}, 'active', 'local', 'p', 2900, 'usd', 1, null, ${mrr}, 'status', 'bench' from n where i % 3 = 0 or i % 11 = 0
        union all select 'sub_b' || i, 'cus_b' || i, 'u_b' || i, ${start} + 40 * ${DAY}, 'active', 'mobile', 'p', 4900, 'usd', 1, null, ${mrr} + 2000, 'price', 'bench' from n where i % 7 = 0
        union all select 'sub_b' || i, 'cus_b' || i, 'u_b' || i, ${start} + 100 * ${DAY}, 'canceled', 'local', 'p', 2900, 'usd', 1, null, ${mrr}, 'status', 'bench' from n where i % 10 = 0
        union all select 'sub_b' || i, 'cus_b' || i, 'u_b' || i, ${start} + 60 * ${DAY}, 'past_due', 'local', 'p', 2900, 'usd', 1, null, ${mrr}, 'status', 'bench' from n where i % 23 = 1`),
      w.db.prepare(`insert into dunning_cases (id, invoice_id, subscription_id, customer_id, anchor_at, status, stage, amount, currency, opened_at, closed_at)
        ${n} select 'case_b' || i, 'in_b' || i || '_2', 'sub_b' || i, 'cus_b' || i, ${start} + 60 * ${DAY}, case when i % 46 = 1 then 'suspended' else 'open' end,
          case when i % 46 = 1 then 'suspended' end, 2900, 'usd', ${start} + 60 * ${DAY}, case when i % 46 = 1 then ${start} + 81 * ${DAY} end from n where i % 23 = 1`),
      w.db.prepare(`insert into dunning_steps (case_id, step, outcome, at) ${n} select 'case_b' || i, 'suspended', 'done', ${start} + 81 * ${DAY} from n where i % 46 = 1`),
    ]);
    for (let k = 0; k < INVOICES_PER_SUB; k++) {
      await w.db
        .prepare(`insert into invoices (id, customer_id, subscription_id, user_id, status, billing_reason, currency, subtotal, tax, discount_total, total, amount_due, amount_paid, amount_remaining, attempt_count, period_start, period_end, created_at, paid_at, synced_at)
          ${n} select 'in_b' || i || '_' || ${k}, 'cus_b' || i, 'sub_b' || i, 'u_b' || i, case when i % 23 = 1 and ${k} = 2 then 'open' else 'paid' end, 'subscription_cycle', 'usd',
            ${price}, case when i % 2 = 0 then ${price} * 725 / 10000 else 0 end, 0, ${price} + case when i % 2 = 0 then ${price} * 725 / 10000 else 0 end, ${price}, ${price}, 0, 1,
            ${start} + ${k * 30} * ${DAY}, ${start} + ${(k + 1) * 30} * ${DAY}, ${start} + ${k * 30} * ${DAY}, case when i % 23 = 1 and ${k} = 2 then null else ${start} + ${k * 30} * ${DAY} + 3600000 end, ${start} from n`)
        .run();
    }
  }
  const counts = await w.db
    .prepare("select (select count(*) from subscriptions) as subs, (select count(*) from invoices) as invoices, (select count(*) from subscription_history) as history")
    .first<{ subs: number; invoices: number; history: number }>();
  const seedMs = performance.now() - t0;
  console.log(`seeded ${JSON.stringify(counts)} in ${(seedMs / 1000).toFixed(1)} s`);
  await w.db.prepare("analyze").run();

  const analyst = await w.createKey("analyst");
  const reportMs: number[] = [];
  const scanMs: number[] = [];
  let closing = 0;
  let current = { mrr: 0, customers: 0 };
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const res = await w.request("/v1/analytics/report?period=monthly&from=2025-01&to=2025-12", { key: analyst });
    const body = (await res.json()) as { rows?: { closing_mrr: number; revenue: number }[]; current?: { mrr: number; customers: number } };
    reportMs.push(performance.now() - t);
    if (res.status !== 200 || !body.rows) throw new Error(`report failed: HTTP ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
    closing = body.rows.at(-1)!.closing_mrr;
    current = body.current!;
    t = performance.now();
    const scan = await w.db.prepare("select count(*) as n, sum(amount_paid) as paid from invoices").first<{ n: number }>();
    scanMs.push(performance.now() - t);
    if (scan?.n !== counts?.invoices) throw new Error("scan did not see every invoice");
  }
  // Where the report's time goes: its parts, called from Node on the same D1 (for reading, not a goal).
  const parts: Record<string, number> = {};
  const Y = 2025 * 12;
  for (const [name, run] of [
    ["movements", () => monthlyMovements(w.orm, "usd", Y, Y + 11)],
    ["current", () => currentFigures({ db: w.orm, clock: fixedClock(Date.UTC(2025, 11, 31)) }, "usd")],
    ["trials", () => trialCohorts(w.orm, "usd", Y, Y + 11)],
    ["revenue", () => revenueByMonth(w.orm, "usd", Y, Y + 11)],
  ] as const) {
    const t = performance.now();
    await (run as () => Promise<unknown>)();
    parts[name] = Math.round(performance.now() - t);
  }
  console.log("parts (ms)", parts);
  const report_ms = Math.round(median(reportMs));
  const scan_ms = Math.round(median(scanMs));
  writeReport("analytics", {
    metrics: { report_ms, scan_ms, report_ratio_vs_scan: Number((report_ms / scan_ms).toFixed(2)) },
    goals: { report_ratio_vs_scan: { op: "<=", value: 2 } },
    details: {
      subscriptions: counts?.subs,
      invoices: counts?.invoices,
      history_rows: counts?.history,
      months: 12,
      runs: RUNS,
      report_runs_ms: reportMs.map(Math.round),
      scan_runs_ms: scanMs.map(Math.round),
      december_closing_mrr: closing,
      current_mrr: current.mrr,
      current_customers: current.customers,
      parts_ms: parts,
      seed_s: Math.round(seedMs / 1000),
    },
  });
} finally {
  await w.dispose();
}
