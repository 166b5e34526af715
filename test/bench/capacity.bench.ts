/**
 * How many webhook events per second one queue consumer stores into one D1 database, in
 * batches: the figure docs/capacity.md builds its capacity model on.
 *
 *   node --import tsx test/bench/capacity.bench.ts     (or: npm run bench -- capacity)
 * Writes test/bench/results/capacity.json.
 *
 * The real worker runs in workerd (Miniflare, test/harness/worker.ts) on local D1 with the
 * consumer settings of wrangler.toml (batches of up to 100, 1 s batch timeout; Miniflare runs one
 * batch at a time, i.e. one consumer). A burst of BENCH_CAPACITY_EVENTS signed webhooks (default
 * 5,000) is posted to /webhooks/stripe as fast as BENCH_CAPACITY_CONCURRENCY (32) clients can;
 * the route queues them and the consumer stores them. Each row's processed_at is the consumer's
 * clock when its batch was written (the events are charge.succeeded: stored as processed, no
 * Stripe fetch), and received_at the route's, so the database itself says when each batch was
 * stored and how far behind the consumer was:
 *   consumer_store_events_per_s   events stored after the first batch ÷ time from the first
 *                                 batch to the last; a lower bound when the route delivered
 *                                 slower than the consumer could store (details say which)
 *   max_lag_ms                    the longest an event waited between its 200 and its row
 * Three bursts into the same database; the medians are the figures. No goal: a measurement.
 */
import { startWorker } from "../harness/worker.ts";
import { median, writeReport } from "./report.ts";
import { signedChargeEvents } from "./signed-events.ts";

const SECRET = "whsec_capacity";
const EVENTS = Number(process.env.BENCH_CAPACITY_EVENTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CAPACITY_CONCURRENCY ?? 32);
const BURSTS = 3;

const signed = (run: string) => signedChargeEvents(EVENTS, `cap_${run}`, SECRET);

const w = await startWorker({ queueBatchTimeoutSeconds: 1, bindings: { STRIPE_WEBHOOK_SECRETS: SECRET, STRIPE_SECRET_KEY: "sk_test_bench", STRIPE_API_BASE: "http://127.0.0.1:9" } });
try {
  const bursts: { store_per_s: number; route_per_s: number; max_lag_ms: number; batches: number }[] = [];
  for (let b = 0; b < BURSTS; b++) {
    const run = `b${b}`;
    const requests = await signed(run);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const r = requests[next++]!;
          const res = await fetch(`${w.url}/webhooks/stripe`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": r.signature }, body: r.body });
          if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    const routePerS = EVENTS / ((performance.now() - started) / 1000);
    const like = `evt_cap_${run}_%`;
    let n = 0;
    for (let i = 0; i < 1200 && n < EVENTS; i++) {
      n = (await w.db.prepare("select count(*) as n from stripe_events where id like ?").bind(like).first<{ n: number }>())!.n;
      if (n < EVENTS) await new Promise((r) => setTimeout(r, 100));
    }
    if (n !== EVENTS) throw new Error(`burst ${run}: ${n} of ${EVENTS} stored after 2 minutes`);
    // One processed_at per consumer batch: the first batch starts the clock, its events do not count.
    const t = (await w.db
      .prepare(
        "select min(processed_at) as first, max(processed_at) as last, count(distinct processed_at) as batches, max(processed_at - received_at) as lag, (select count(*) from stripe_events where id like ?1 and processed_at = (select min(processed_at) from stripe_events where id like ?1)) as in_first from stripe_events where id like ?1",
      )
      .bind(like)
      .first<{ first: number; last: number; batches: number; lag: number; in_first: number }>())!;
    const storePerS = (EVENTS - t.in_first) / ((t.last - t.first) / 1000);
    bursts.push({ store_per_s: Math.round(storePerS), route_per_s: Math.round(routePerS), max_lag_ms: t.lag, batches: t.batches });
    console.log(`burst ${b + 1}: route accepted ${Math.round(routePerS)}/s, consumer stored ${Math.round(storePerS)}/s in ${t.batches} batches, longest wait ${t.lag} ms`);
  }
  const store = median(bursts.map((x) => x.store_per_s));
  const route = median(bursts.map((x) => x.route_per_s));
  writeReport("capacity", {
    metrics: { consumer_store_events_per_s: store, route_accept_events_per_s: route, max_lag_ms: median(bursts.map((x) => x.max_lag_ms)) },
    goals: {},
    details: {
      bursts,
      events_per_burst: EVENTS,
      concurrency: CONCURRENCY,
      consumer: { max_batch_size: 100, max_batch_timeout_s: 1, concurrent_batches: 1 },
      consumer_bound:
        store < route * 0.9
          ? "yes: the route delivered faster than the consumer stored, so the consumer's figure is its capacity"
          : "no: the consumer kept up with the route, so its figure is a lower bound",
      event_type: "charge.succeeded (stored, needs no processing)",
      d1: "local D1 (Miniflare, SQLite in workerd on this machine), in memory",
    },
    notes: ["Input of docs/capacity.md: events per second one consumer stores into one D1 database in batches of up to 100."],
  });
} finally {
  await w.dispose();
}
