/**
 * Dunning: the cost of the `*\/15` cron's tick with the same due work among 10,000 and among
 * 200,000 subscriptions. Two real workers in workerd (test/harness/worker.ts), each with its own
 * local D1, run in the same process against one Stripe emulator (packages/stripe-emulator) that
 * holds the due cases' customers, so the tick's contact fetch is the same real work for both.
 *
 *   node --import tsx test/bench/dunning.bench.ts     (or: npm run bench -- dunning)
 *
 * Each database holds N subscriptions with their customers, entitlements and latest invoices,
 * 5 % of them with a closed dunning case (recovered, canceled or suspended, with its steps and
 * sent emails), 1 % with an open case not yet due, and the same DUE open cases whose first stage
 * (dunning_soft, day 3) is due: anchored 3.5 days ago, no retry due (`next_retry_at` NULL,
 * DUNNING_RETRIES=stripe), so a tick does stage work only: the invoice and the customer fetched
 * from the emulator (is it still unpaid? who is it?), the step row, the email enqueued, the case
 * moved, audited.
 *
 * A tick is the scheduled handler run with cron "*\/15 * * * *" (sweep, lapsed suspensions, the
 * dunning tick), as workerd runs it. The tick takes at most `dunningPolicy.tickBatch` cases per
 * selection, so the DUE cases take ceil(DUE / tickBatch) ticks: one repetition is those ticks,
 * each checked to have done exactly its share of stages (dunning_steps and email_outbox rows), and
 * the 500 cases are reset (stage, next action, their steps and emails deleted) before the next.
 * The two databases are ticked alternately, tick by tick (which goes first alternating too), after
 * one unmeasured repetition to warm up.
 *
 * Writes test/bench/results/dunning.json:
 *   tick_ms_small, tick_ms_large   median time of one tick (scheduled handler called → resolved,
 *                                  which workerd holds until the cron's waitUntil work is done)
 *   tick_ratio_large_vs_small      goal ≤ 1.5: a tick's cost follows due work, not table size
 * Details: both drains' totals, an idle tick (nothing due) on each, and the query plans of the
 * tick's selections in the large database.
 */
import { and, eq, inArray, isNotNull, isNull, lte } from "drizzle-orm";
import Stripe from "stripe";
import { startEmulator } from "../../packages/stripe-emulator/src/index.ts";
import { dunningCases, entitlements } from "../../worker/src/db/schema.ts";
import { dunningPolicy } from "../../worker/src/dunning/policy.ts";
import { startWorker, type HarnessD1, type WorkerHarness } from "../harness/worker.ts";
import { writeReport } from "./report.ts";

const SMALL = Number(process.env.BENCH_DUNNING_SMALL ?? 10_000);
const LARGE = Number(process.env.BENCH_DUNNING_LARGE ?? 200_000);
const DUE = Number(process.env.BENCH_DUNNING_DUE ?? 500);
const REPS = Number(process.env.BENCH_DUNNING_REPS ?? 5);
const GOAL_RATIO = 1.5;
const CRON = "*/15 * * * *";
const DAY = 86_400_000;

const T0 = Date.now();
const ANCHOR = T0 - 3.5 * DAY;
const SOFT_AT = ANCHOR + 3 * DAY;
// Case ids of the due cases sort together: `dun_in_due_000` … (caseIdOf = `dun_<invoice>`).
const DUE_LO = "dun_in_due_";
const DUE_HI = "dun_in_due`";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 1) => Number(x.toFixed(d));
const pad = (i: number) => String(i).padStart(3, "0");

/** An email body of a realistic length for the sent rows of closed cases. */
const BODY = "We could not collect your payment for Federal Job Advisor. ".repeat(30);

/** Rows 0 … n-1 from SQLite itself: one statement per table, nothing shipped row by row. */
const rows = (n: number) => `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${n})`;

/**
 * The bulk: `bulk` subscriptions besides the due ones. Row i's part in the story is i % 100:
 * 0–2 recovered from dunning, 3 canceled during dunning, 4 suspended on day 21 (5 % closed cases),
 * 5 in dunning but not due yet, 6–13 churned, the rest active.
 */
async function seedBulk(db: HarnessD1, bulk: number): Promise<void> {
  const id = (prefix: string) => `'${prefix}' || printf('%07d', i)`;
  const kind = "(i % 100)";
  const subStatus = `CASE WHEN ${kind} = 3 OR ${kind} BETWEEN 6 AND 13 THEN 'canceled' WHEN ${kind} IN (4, 5) THEN 'past_due' ELSE 'active' END`;
  const tier = `CASE WHEN i % 3 = 0 THEN 'mobile' ELSE 'local' END`;
  const amount = `CASE WHEN i % 3 = 0 THEN 4900 ELSE 2900 END`;
  const created = `${T0 - 400 * DAY} + (i % 365) * ${DAY}`;
  const caseAnchor = `${T0 - 30 * DAY} - (i % 300) * ${DAY}`;
  const statements = [
    `INSERT INTO customers (id, user_id, email, name, country, currency, deleted, created_at, synced_at)
       ${rows(bulk)} SELECT ${id("cus_bulk")}, ${id("user_bulk")}, 'user' || i || '@bulk.bench.test', 'Bulk User ' || i, 'US', 'usd', 0, ${created}, ${T0} FROM n`,
    `INSERT INTO subscriptions (id, customer_id, user_id, status, tier, price_id, lookup_key, interval, interval_count, unit_amount, currency, quantity, mrr, cancel_at_period_end, canceled_at, ended_at, current_period_start, current_period_end, created_at, synced_at)
       ${rows(bulk)} SELECT ${id("sub_bulk")}, ${id("cus_bulk")}, ${id("user_bulk")}, ${subStatus}, ${tier}, 'price_' || ${tier} || '_monthly', ${tier} || '_monthly', 'month', 1, ${amount}, 'usd', 1,
         CASE WHEN ${subStatus} = 'canceled' THEN 0 ELSE ${amount} END, 0,
         CASE WHEN ${subStatus} = 'canceled' THEN ${T0 - 20 * DAY} END, CASE WHEN ${subStatus} = 'canceled' THEN ${T0 - 20 * DAY} END,
         ${T0 - 10 * DAY}, ${T0 + 20 * DAY}, ${created}, ${T0} FROM n`,
    `INSERT INTO invoices (id, customer_id, subscription_id, user_id, status, billing_reason, currency, subtotal, tax, discount_total, total, amount_due, amount_paid, amount_remaining, attempt_count, period_start, period_end, created_at, paid_at, synced_at)
       ${rows(bulk)} SELECT ${id("in_bulk")}, ${id("cus_bulk")}, ${id("sub_bulk")}, ${id("user_bulk")},
         CASE WHEN ${kind} IN (4, 5) THEN 'open' WHEN ${kind} = 3 THEN 'void' ELSE 'paid' END, 'subscription_cycle', 'usd', ${amount}, 0, 0, ${amount}, ${amount},
         CASE WHEN ${kind} IN (3, 4, 5) THEN 0 ELSE ${amount} END, CASE WHEN ${kind} IN (3, 4, 5) THEN ${amount} ELSE 0 END,
         CASE WHEN ${kind} <= 5 THEN 2 ELSE 1 END, ${T0 - 10 * DAY}, ${T0 + 20 * DAY}, ${T0 - 10 * DAY}, CASE WHEN ${kind} IN (3, 4, 5) THEN NULL ELSE ${T0 - 10 * DAY} END, ${T0} FROM n`,
    `INSERT INTO entitlements (user_id, customer_id, subscription_id, tier, status, grace_until, suspended_at, current_period_end, updated_at, version)
       ${rows(bulk)} SELECT ${id("user_bulk")}, ${id("cus_bulk")}, ${id("sub_bulk")}, ${tier},
         CASE WHEN ${kind} = 4 THEN 'suspended' WHEN ${kind} = 5 THEN 'past_due' WHEN ${subStatus} = 'canceled' THEN 'canceled' ELSE 'active' END,
         CASE WHEN ${kind} = 5 THEN ${T0 + 15 * DAY} END, CASE WHEN ${kind} = 4 THEN ${T0 - 5 * DAY} END, ${T0 + 20 * DAY}, ${T0 - DAY}, 1 FROM n`,
    // Closed cases (on the invoice before the latest) and the open, not yet due ones.
    `INSERT INTO dunning_cases (id, invoice_id, subscription_id, customer_id, user_id, anchor_at, status, stage, next_action_at, amount, currency, decline_code, last_decline_code, retries, opened_at, closed_at)
       ${rows(bulk)} SELECT 'dun_' || ${id("in_bulkd")}, ${id("in_bulkd")}, ${id("sub_bulk")}, ${id("cus_bulk")}, ${id("user_bulk")},
         CASE WHEN ${kind} = 5 THEN ${T0 - 2 * DAY} ELSE ${caseAnchor} END,
         CASE ${kind} WHEN 3 THEN 'canceled' WHEN 4 THEN 'suspended' WHEN 5 THEN 'open' ELSE 'recovered' END,
         CASE ${kind} WHEN 3 THEN 'dunning_urgent' WHEN 4 THEN 'suspended' WHEN 5 THEN NULL ELSE 'dunning_soft' END,
         CASE WHEN ${kind} = 5 THEN ${T0 + DAY} + (i % 17) * 3600000 END,
         ${amount}, 'usd', CASE WHEN i % 2 = 0 THEN 'insufficient_funds' ELSE 'generic_decline' END, CASE WHEN i % 2 = 0 THEN 'insufficient_funds' ELSE 'generic_decline' END, 0,
         CASE WHEN ${kind} = 5 THEN ${T0 - 2 * DAY} ELSE ${caseAnchor} END,
         CASE WHEN ${kind} <> 5 THEN ${caseAnchor} + 5 * ${DAY} END
       FROM n WHERE ${kind} <= 5`,
  ];
  // Each closed case's stages, with the email each one sent (and the recovery email).
  const stages = [
    { stage: "dunning_soft", day: 3, kinds: "0, 1, 2, 3, 4" },
    { stage: "dunning_urgent", day: 7, kinds: "3, 4" },
    { stage: "dunning_final", day: 14, kinds: "4" },
    { stage: "suspended", day: 21, kinds: "4" },
    { stage: "payment_recovered", day: 5, kinds: "0, 1, 2", emailOnly: true },
  ];
  for (const st of stages) {
    const at = `(${caseAnchor}) + ${st.day * DAY}`;
    const key = `'dun_' || ${id("in_bulkd")} || ':${st.stage}'`;
    if (!st.emailOnly)
      statements.push(
        `INSERT INTO dunning_steps (case_id, step, outcome, at, email_key) ${rows(bulk)} SELECT 'dun_' || ${id("in_bulkd")}, '${st.stage}', 'done', ${at}, ${key} FROM n WHERE ${kind} IN (${st.kinds})`,
      );
    statements.push(
      `INSERT INTO email_outbox (id, idempotency_key, "to", user_id, template, subject, text, html, status, attempts, provider, provider_message_id, created_at, sent_at)
         ${rows(bulk)} SELECT 'em_bulk_${st.stage}_' || i, ${key}, 'user' || i || '@bulk.bench.test', ${id("user_bulk")}, '${st.stage}', 'Your Federal Job Advisor payment', ?1, '<p>' || ?1 || '</p>', 'sent', 1, 'log', 'log_' || i, ${at}, ${at} + 60000
         FROM n WHERE ${kind} IN (${st.kinds})`,
    );
  }
  for (const sql of statements)
    await db
      .prepare(sql)
      .bind(...(sql.includes("?1") ? [BODY] : []))
      .run();
}

interface DueCustomer {
  i: number;
  customer: string;
  /** The customer's open invoice in the emulator: the tick asks Stripe whether it is still unpaid. */
  invoice: string;
}

/** The due cases: their customers are the emulator's, everything else is mirror rows. */
async function seedDue(db: HarnessD1, due: DueCustomer[]): Promise<void> {
  const json = JSON.stringify(due.map((d) => ({ n: pad(d.i), c: d.customer, i: d.i, v: d.invoice })));
  const each = `FROM json_each(?1) AS j`;
  const n = `json_extract(j.value, '$.n')`;
  const c = `json_extract(j.value, '$.c')`;
  const v = `json_extract(j.value, '$.v')`;
  const statements = [
    `INSERT INTO customers (id, user_id, email, name, country, currency, deleted, created_at, synced_at) SELECT ${c}, 'user_due_' || ${n}, 'due-' || ${n} || '@bench.test', 'Due ' || ${n}, 'US', 'usd', 0, ${T0 - 90 * DAY}, ${T0} ${each}`,
    `INSERT INTO subscriptions (id, customer_id, user_id, status, tier, price_id, lookup_key, interval, interval_count, unit_amount, currency, quantity, mrr, cancel_at_period_end, current_period_start, current_period_end, created_at, synced_at)
       SELECT 'sub_due_' || ${n}, ${c}, 'user_due_' || ${n}, 'past_due', 'local', 'price_local_monthly', 'local_monthly', 'month', 1, 2900, 'usd', 1, 2900, 0, ${ANCHOR}, ${ANCHOR + 30 * DAY}, ${T0 - 90 * DAY}, ${T0} ${each}`,
    `INSERT INTO invoices (id, customer_id, subscription_id, user_id, status, billing_reason, currency, subtotal, tax, discount_total, total, amount_due, amount_paid, amount_remaining, attempt_count, period_start, period_end, created_at, synced_at)
       SELECT ${v}, ${c}, 'sub_due_' || ${n}, 'user_due_' || ${n}, 'open', 'subscription_cycle', 'usd', 2900, 0, 0, 2900, 2900, 0, 2900, 1, ${ANCHOR}, ${ANCHOR + 30 * DAY}, ${ANCHOR}, ${T0} ${each}`,
    `INSERT INTO entitlements (user_id, customer_id, subscription_id, tier, status, grace_until, current_period_end, updated_at, version)
       SELECT 'user_due_' || ${n}, ${c}, 'sub_due_' || ${n}, 'local', 'past_due', ${ANCHOR + 21 * DAY}, ${ANCHOR + 30 * DAY}, ${ANCHOR}, 1 ${each}`,
    `INSERT INTO dunning_cases (id, invoice_id, subscription_id, customer_id, user_id, anchor_at, status, stage, next_action_at, amount, currency, decline_code, last_decline_code, retries, next_retry_at, opened_at)
       SELECT 'dun_in_due_' || ${n}, ${v}, 'sub_due_' || ${n}, ${c}, 'user_due_' || ${n}, ${ANCHOR}, 'open', NULL, ${SOFT_AT}, 2900, 'usd', 'insufficient_funds', 'insufficient_funds', 0, NULL, ${ANCHOR} ${each}`,
  ];
  for (const sql of statements) await db.prepare(sql).bind(json).run();
}

/** The due cases as before their first stage: no step, no email, day 3 due. */
async function resetDue(db: HarnessD1): Promise<void> {
  await db.batch([
    db.prepare("UPDATE dunning_cases SET status = 'open', stage = NULL, next_action_at = ?1, closed_at = NULL WHERE id >= ?2 AND id < ?3").bind(SOFT_AT, DUE_LO, DUE_HI),
    db.prepare("DELETE FROM dunning_steps WHERE case_id >= ?1 AND case_id < ?2").bind(DUE_LO, DUE_HI),
    db.prepare("DELETE FROM email_outbox WHERE idempotency_key >= ?1 AND idempotency_key < ?2").bind(DUE_LO, DUE_HI),
  ]);
}

async function stagesDone(db: HarnessD1): Promise<{ steps: number; emails: number; due: number }> {
  const [steps, emails, due] = await db.batch<{ n: number }>([
    db.prepare("SELECT count(*) AS n FROM dunning_steps WHERE case_id >= ?1 AND case_id < ?2 AND step = 'dunning_soft' AND outcome = 'done'").bind(DUE_LO, DUE_HI),
    db.prepare("SELECT count(*) AS n FROM email_outbox WHERE idempotency_key >= ?1 AND idempotency_key < ?2 AND template = 'dunning_soft'").bind(DUE_LO, DUE_HI),
    db.prepare("SELECT count(*) AS n FROM dunning_cases WHERE status = 'open' AND next_action_at <= ?1").bind(Date.now()),
  ]);
  return { steps: steps!.results[0]!.n, emails: emails!.results[0]!.n, due: due!.results[0]!.n };
}

interface Db {
  label: string;
  size: number;
  worker: WorkerHarness;
  cron: Awaited<ReturnType<WorkerHarness["mf"]["getWorker"]>>;
  seedSeconds: number;
  ticks: number[];
  drains: number[];
}

async function tick(d: Db): Promise<number> {
  const t0 = performance.now();
  const r = await d.cron.scheduled({ cron: CRON, scheduledTime: new Date() });
  const ms = performance.now() - t0;
  if (r.outcome !== "ok") throw new Error(`${d.label}: the cron's outcome was ${r.outcome}`);
  return ms;
}

/**
 * The DUE stages of both databases, tick after tick, the two ticked alternately (which goes first
 * alternating too) so that the machine's load at any moment weighs on both alike; each tick is
 * checked to have done exactly its share.
 */
async function drainBoth(pair: [Db, Db], record: boolean, flip: boolean): Promise<void> {
  for (const d of pair) {
    await resetDue(d.worker.db);
    const before = await stagesDone(d.worker.db);
    if (before.steps !== 0 || before.emails !== 0 || before.due !== DUE) throw new Error(`${d.label}: after the reset expected ${DUE} due cases and no steps, found ${JSON.stringify(before)}`);
  }
  const totals = new Map<Db, number>(pair.map((d) => [d, 0]));
  for (let done = 0, k = 0; done < DUE; k++) {
    const expected = Math.min(DUE, done + dunningPolicy.tickBatch);
    for (const d of (k % 2 === 0) !== flip ? pair : [pair[1], pair[0]]) {
      const ms = await tick(d);
      const after = await stagesDone(d.worker.db);
      if (after.steps !== expected || after.emails !== expected || after.due !== DUE - expected) {
        throw new Error(`${d.label}: a tick should have done ${expected - done} stages (${expected} in all), found ${JSON.stringify(after)}`);
      }
      totals.set(d, totals.get(d)! + ms);
      if (record) d.ticks.push(ms);
    }
    done = expected;
  }
  if (record) for (const d of pair) d.drains.push(totals.get(d)!);
}

/**
 * The selections of dunning/tick.ts (written out again here: keep them in step with it) and of the
 * same cron's lapsed-suspension job, with their plans in the large database.
 */
async function plans(w: WorkerHarness): Promise<Record<string, string[]>> {
  const now = Date.now();
  const queries = {
    tick_due_wall_clock: w.orm
      .select()
      .from(dunningCases)
      .where(and(inArray(dunningCases.status, ["open", "suspended"]), isNull(dunningCases.testClock), lte(dunningCases.nextActionAt, now)))
      .orderBy(dunningCases.nextActionAt)
      .limit(dunningPolicy.tickBatch)
      .toSQL(),
    tick_test_clocks: w.orm
      .selectDistinct({ clock: dunningCases.testClock })
      .from(dunningCases)
      .where(and(inArray(dunningCases.status, ["open", "suspended"]), isNotNull(dunningCases.testClock), isNotNull(dunningCases.nextActionAt)))
      .toSQL(),
    grace_lapsed: w.orm
      .select({ userId: entitlements.userId })
      .from(entitlements)
      .where(and(eq(entitlements.status, "past_due"), lte(entitlements.graceUntil, now)))
      .limit(100)
      .toSQL(),
  };
  const out: Record<string, string[]> = {};
  for (const [name, q] of Object.entries(queries)) {
    const r = await w.db
      .prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
      .bind(...q.params)
      .all<{ detail: string }>();
    out[name] = r.results.map((x) => x.detail);
  }
  return out;
}

async function counts(db: HarnessD1): Promise<Record<string, number>> {
  const tables = ["subscriptions", "customers", "entitlements", "invoices", "dunning_cases", "dunning_steps", "email_outbox"];
  const r = await db.batch<{ n: number }>(tables.map((t) => db.prepare(`SELECT count(*) AS n FROM ${t}`)));
  return Object.fromEntries(tables.map((t, i) => [t, r[i]!.results[0]!.n]));
}

async function main() {
  if (SMALL <= DUE || LARGE <= DUE) throw new Error(`both sizes must exceed the ${DUE} due cases`);
  const emulator = await startEmulator({ port: 0, secretKey: "sk_test_dunning_bench" });
  const stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  const dbs: Db[] = [];
  try {
    const due: DueCustomer[] = [];
    for (let i = 0; i < DUE; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, DUE - i) }, async (_, k) => {
          const customer = await stripe.customers.create({ email: `due-${pad(i + k)}@bench.test`, name: `Due ${pad(i + k)}`, metadata: { user_id: `user_due_${pad(i + k)}` } });
          // Open and unpaid, as a declined renewal leaves it (sent, not charged, so nothing collects it meanwhile).
          await stripe.invoiceItems.create({ customer: customer.id, amount: 2900, currency: "usd", description: "Local (monthly)" });
          const draft = await stripe.invoices.create({ customer: customer.id, collection_method: "send_invoice", days_until_due: 30, pending_invoice_items_behavior: "include" });
          const invoice = await stripe.invoices.finalizeInvoice(draft.id!);
          if (invoice.status !== "open") throw new Error(`the due invoice of ${customer.id} is ${invoice.status}, not open`);
          return { customer: customer.id, invoice: invoice.id! };
        }),
      );
      batch.forEach((c, k) => due.push({ i: i + k, ...c }));
    }
    const bindings = { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, DUNNING_RETRIES: "stripe", EMAIL_TRANSPORT: "log" };
    for (const [label, size] of [
      ["small", SMALL],
      ["large", LARGE],
    ] as const) {
      const worker = await startWorker({ bindings });
      const t0 = performance.now();
      await seedBulk(worker.db, size - DUE);
      await seedDue(worker.db, due);
      const seedSeconds = (performance.now() - t0) / 1000;
      const d: Db = { label, size, worker, cron: await worker.mf.getWorker(), seedSeconds, ticks: [], drains: [] };
      dbs.push(d);
      console.log(`${label}: ${size.toLocaleString("en-US")} subscriptions seeded in ${seedSeconds.toFixed(1)} s ${JSON.stringify(await counts(worker.db))}`);
    }
    const [small, large] = dbs as [Db, Db];

    // Nothing due: what a tick costs before any due work (the cron's fixed part).
    const idle = { small: [] as number[], large: [] as number[] };
    await resetDue(small.worker.db);
    await resetDue(large.worker.db);
    await small.worker.db
      .prepare("UPDATE dunning_cases SET next_action_at = ?1 WHERE id >= ?2 AND id < ?3")
      .bind(T0 + 2 * DAY, DUE_LO, DUE_HI)
      .run();
    await large.worker.db
      .prepare("UPDATE dunning_cases SET next_action_at = ?1 WHERE id >= ?2 AND id < ?3")
      .bind(T0 + 2 * DAY, DUE_LO, DUE_HI)
      .run();
    for (let r = 0; r < 5; r++) {
      idle.small.push(await tick(small));
      idle.large.push(await tick(large));
    }

    await drainBoth([small, large], false, false);
    for (let r = 0; r < REPS; r++) {
      await drainBoth([small, large], true, r % 2 === 1);
      console.log(`repetition ${r + 1}/${REPS}: small ${round(small.drains.at(-1)!)} ms, large ${round(large.drains.at(-1)!)} ms for ${DUE} stages`);
    }

    const tickSmall = median(small.ticks);
    const tickLarge = median(large.ticks);
    writeReport("dunning", {
      metrics: { tick_ms_small: round(tickSmall), tick_ms_large: round(tickLarge), tick_ratio_large_vs_small: round(tickLarge / tickSmall, 3) },
      goals: { tick_ratio_large_vs_small: { op: "<=", value: GOAL_RATIO } },
      details: {
        subscriptions: { small: SMALL, large: LARGE },
        due_cases: DUE,
        tick_batch: dunningPolicy.tickBatch,
        ticks_per_repetition: Math.ceil(DUE / dunningPolicy.tickBatch),
        repetitions: REPS,
        rows: { small: await counts(small.worker.db), large: await counts(large.worker.db) },
        drain_ms_median: { small: round(median(small.drains)), large: round(median(large.drains)) },
        drain_ratio_large_vs_small: round(median(large.drains) / median(small.drains), 3),
        // The ticks are taken in pairs (small, large back to back): the median of the pairs' ratios.
        paired_tick_ratio_median: round(median(large.ticks.map((x, i) => x / small.ticks[i]!)), 3),
        idle_tick_ms_median: { small: round(median(idle.small)), large: round(median(idle.large)) },
        idle_tick_ratio_large_vs_small: round(median(idle.large) / median(idle.small), 3),
        tick_ms: { small: small.ticks.map((x) => round(x)), large: large.ticks.map((x) => round(x)) },
        seed_seconds: { small: round(small.seedSeconds), large: round(large.seedSeconds) },
        query_plans_large: await plans(large.worker),
      },
      notes: [
        `A tick is the scheduled handler with cron "${CRON}" (sweep, lapsed suspensions, dunning tick), timed from the call to its result; each did exactly its share of the ${DUE} due stages (dunning_steps and email_outbox rows checked after every tick).`,
        "Both workers fetch the due cases' invoices and customers from the same Stripe emulator in this process; DUNNING_RETRIES=stripe and next_retry_at NULL, so no tick calls invoices.pay.",
        "idle_tick_ms: the same cron with nothing due (the due cases' next action moved 2 days ahead), the part of a tick that does not follow due work.",
      ],
    });
  } finally {
    for (const d of dbs) await d.worker.dispose();
    await emulator.stop();
  }
}

await main();
