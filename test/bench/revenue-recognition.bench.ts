/**
 * Recognized revenue over a large mirror, against reading the rows it needs.
 *
 *   node --import tsx test/bench/revenue-recognition.bench.ts     (or: npm run bench -- revenue-recognition)
 *
 * The real worker runs in workerd in-process (test/harness/worker.ts) on local D1. The mirror is
 * generated inside D1 by SQL (recursive CTEs): BENCH_RECOGNITION_SUBSCRIPTIONS customers (default
 * 20,000), nine in ten paying monthly (12 invoices of one line over 2025, each over its 30 days)
 * and one in ten annually (one invoice, a 365-day line), every 50th invoice partly refunded.
 * Then, alternating, 3 times each:
 *   recognition_ms  GET /v1/analytics/revenue-recognition?from=2025-01&to=2025-12 (analyst key,
 *                   over HTTP: route, validation, its queries, the schedule of every invoice), median
 *   read_ms         reading every invoice line with its invoice's paid time and its refunds (the
 *                   rows the recognition needs, joined), through the same D1, median
 *   recognition_ratio_vs_read = recognition_ms ÷ read_ms, goal ≤ 2: the schedule and the
 *   journal cost no more than reading the facts once.
 */
import { startWorker } from "../harness/worker.ts";
import { median, writeReport } from "./report.ts";

const SUBS = Number(process.env.BENCH_RECOGNITION_SUBSCRIPTIONS ?? 20_000);
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
    const start = `(${BASE} + (i % 28) * ${DAY} + (i % 7) * 3600000)`;
    const invoice = (k: number, amount: string, days: number, where: string) => [
      w.db.prepare(`insert into invoices (id, customer_id, subscription_id, user_id, status, billing_reason, currency, subtotal, tax, discount_total, total, amount_due, amount_paid, amount_remaining, attempt_count, period_start, period_end, created_at, paid_at, synced_at)
        ${n} select 'in_r' || i || '_' || ${k}, 'cus_r' || i, 'sub_r' || i, 'u_r' || i, 'paid', 'subscription_cycle', 'usd', ${amount}, 0, 0, ${amount}, ${amount}, ${amount}, 0, 1,
          ${start} + ${k * 30} * ${DAY}, ${start} + ${k * 30} * ${DAY}, ${start} + ${k * 30} * ${DAY}, ${start} + ${k * 30} * ${DAY} + 3600000, ${start} from n where ${where}`),
      w.db.prepare(`insert into invoice_lines (id, invoice_id, currency, amount, period_start, period_end, proration)
        ${n} select 'il_r' || i || '_' || ${k}, 'in_r' || i || '_' || ${k}, 'usd', ${amount}, ${start} + ${k * 30} * ${DAY}, ${start} + ${k * 30 + days} * ${DAY}, 0 from n where ${where}`),
      w.db.prepare(`insert into refunds (id, charge_id, invoice_id, customer_id, user_id, amount, currency, status, created_at, synced_at)
        ${n} select 're_r' || i || '_' || ${k}, 'ch_r' || i || '_' || ${k}, 'in_r' || i || '_' || ${k}, 'cus_r' || i, 'u_r' || i, ${amount} / 3, 'usd', 'succeeded',
          ${start} + ${k * 30 + 10} * ${DAY}, ${start} from n where ${where} and (i + ${k}) % 50 = 0`),
    ];
    await w.db.batch([...invoice(0, "49000", 365, "i % 10 = 0"), ...Array.from({ length: 12 }, (_, k) => invoice(k, "(case when i % 5 = 1 then 4900 else 2900 end)", 30, "i % 10 <> 0")).flat()]);
  }
  const counts = await w.db
    .prepare("select (select count(*) from invoices) as invoices, (select count(*) from invoice_lines) as lines, (select count(*) from refunds) as refunds")
    .first<{ invoices: number; lines: number; refunds: number }>();
  const seedMs = performance.now() - t0;
  console.log(`seeded ${JSON.stringify(counts)} in ${(seedMs / 1000).toFixed(1)} s`);
  await w.db.prepare("analyze").run();

  const analyst = await w.createKey("analyst");
  const recognitionMs: number[] = [];
  const readMs: number[] = [];
  let december = { recognized: 0, deferred_closing: 0 };
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const res = await w.request("/v1/analytics/revenue-recognition?from=2025-01&to=2025-12", { key: analyst });
    const body = (await res.json()) as { rows?: { month: string; currency: string; recognized: number; deferred_closing: number }[] };
    recognitionMs.push(performance.now() - t);
    if (res.status !== 200 || !body.rows) throw new Error(`recognition failed: HTTP ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
    december = body.rows.find((x) => x.month === "2025-12" && x.currency === "usd")!;
    t = performance.now();
    const read = await w.db
      .prepare(
        `select l.invoice_id, l.amount, l.period_start, l.period_end, i.paid_at, i.total, i.amount_due, i.amount_paid,
           (select group_concat(r.amount || ':' || r.created_at) from refunds r where r.invoice_id = i.id and r.status = 'succeeded') as refunds
         from invoice_lines l join invoices i on i.id = l.invoice_id where i.status = 'paid'`,
      )
      .all();
    readMs.push(performance.now() - t);
    if (read.results.length !== counts?.lines) throw new Error("the read did not see every line");
  }
  const recognition_ms = Math.round(median(recognitionMs));
  const read_ms = Math.round(median(readMs));
  writeReport("revenue-recognition", {
    metrics: { recognition_ms, read_ms, recognition_ratio_vs_read: Number((recognition_ms / read_ms).toFixed(2)) },
    goals: { recognition_ratio_vs_read: { op: "<=", value: 2 } },
    details: {
      subscriptions: SUBS,
      invoices: counts?.invoices,
      lines: counts?.lines,
      refunds: counts?.refunds,
      months: 12,
      runs: RUNS,
      recognition_runs_ms: recognitionMs.map(Math.round),
      read_runs_ms: readMs.map(Math.round),
      december_recognized: december.recognized,
      december_deferred_closing: december.deferred_closing,
      seed_s: Math.round(seedMs / 1000),
    },
  });
} finally {
  await w.dispose();
}
