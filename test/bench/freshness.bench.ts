/**
 * Freshness: how soon an entitlement change committed in the worker reaches an SDK decision, and
 * what the changes feed costs per poll as the SDK's cache grows. The real worker runs in workerd
 * in-process (test/harness/worker.ts); the SDK (packages/entitlements/src) polls it over HTTP.
 *
 *   node --import tsx test/bench/freshness.bench.ts     (or: npm run bench -- freshness)
 *
 * Measures, in one run, and writes test/bench/results/freshness.json:
 *   change_to_decision_ms   median over 20 changes of the time from a change committed in the
 *                           worker (w.setEntitlement resolved: a cancellation or an upgrade of a
 *                           user whose token the SDK has cached) to the first `check()` that
 *                           answers differently; the SDK polls every second, and each change is
 *                           made at a random moment of the poll cycle. Goal: ≤ one poll interval
 *                           (the expectation is half of one, plus a poll and a token fetch).
 *   change_to_decision_max_ms  the slowest of the 20. Goal: ≤ one poll interval + one feed poll
 *                           + one token fetch (both measured in this run).
 *   poll_ratio_10k_vs_10    median time of one feed poll (request sent → answer read, measured
 *                           around the SDK's `fetch`) of an SDK with 10,000 users cached ÷ that
 *                           of one with 10 cached, both polling the same worker (every second, for
 *                           45 s, their feed requests never overlapping) while the same users
 *                           change (goal ≤ 1.5). Also reported: the polls per interval of each.
 */
import { createEntitlements, type Entitlements } from "../../packages/entitlements/src/index.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";
import { writeReport } from "./report.ts";

const INTERVAL_MS = 1_000;
const CHANGES = Number(process.env.BENCH_FRESHNESS_CHANGES ?? 20);
const BIG_CACHE = Number(process.env.BENCH_FRESHNESS_USERS ?? 10_000);
const POLL_SECONDS = Number(process.env.BENCH_FRESHNESS_POLL_SECONDS ?? 45);
const GOAL_POLL_RATIO = 1.5;
const FEED_PATH = "/v1/entitlements/changes";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const round = (x: number, d = 1) => Number(x.toFixed(d));

/** One feed request at a time across the SDKs that share it: none is measured waiting for another's. */
function feedLock() {
  let tail = Promise.resolve();
  return async <T>(run: () => Promise<T>): Promise<T> => {
    const prev = tail;
    let release!: () => void;
    tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await run();
    } finally {
      release();
    }
  };
}

/** `fetch` that times every request to the changes feed (sent → body read) and counts them. */
function timedFetch(lock: ReturnType<typeof feedLock> = feedLock()) {
  const polls: { at: number; ms: number }[] = [];
  const tokens: number[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const timed = async () => {
      const t0 = performance.now();
      const res = await fetch(input, init);
      const body = await res.text();
      return { res, body, t0, ms: performance.now() - t0 };
    };
    const isFeed = url.includes(FEED_PATH);
    const { res, body, t0, ms } = isFeed ? await lock(timed) : await timed();
    if (isFeed) polls.push({ at: t0, ms });
    else if (url.endsWith("/v1/entitlements/token")) tokens.push(ms);
    return new Response(body, { status: res.status, headers: res.headers });
  };
  return { fetch: f, polls, tokens };
}

function sdkFor(w: WorkerHarness, f: typeof fetch): Entitlements {
  return createEntitlements({ baseUrl: w.url, apiKey: w.serviceKey, issuer: w.issuer, audience: w.audience, fetch: f, changes: { intervalMs: INTERVAL_MS }, maxUsers: BIG_CACHE + 100 });
}

async function cacheUsers(sdk: Entitlements, ids: string[]) {
  for (let i = 0; i < ids.length; i += 32) await Promise.all(ids.slice(i, i + 32).map((id) => sdk.forUser(id)));
}

/** Change → first changed decision, for CHANGES users each cached before its change. */
async function measureChangeToDecision(w: WorkerHarness) {
  const t = timedFetch();
  const sdk = sdkFor(w, t.fetch);
  const latencies: number[] = [];
  const writes: number[] = [];
  const kinds: string[] = [];
  try {
    for (let i = 0; i < CHANGES; i++) {
      const userId = `fresh-${i}`;
      // Even: a local subscriber cancels (allowed → denied). Odd: one upgrades (denied → allowed).
      const cancel = i % 2 === 0;
      const feature = cancel ? "local_job_search" : "nationwide_job_search";
      await w.setEntitlement(userId, { tier: "local", status: "active" });
      const before = await sdk.check(userId, feature);
      if (before.reason === "unavailable") throw new Error(`the SDK could not get a token: ${before.error}`);
      await sleep(Math.random() * INTERVAL_MS); // a random moment of the poll cycle
      const w0 = performance.now();
      await w.setEntitlement(userId, cancel ? { tier: "local", status: "canceled" } : { tier: "mobile", status: "active" });
      const t0 = performance.now(); // committed: setEntitlement resolves once its D1 batch has
      writes.push(t0 - w0);
      for (;;) {
        const d = await sdk.check(userId, feature);
        if (d.allowed !== before.allowed) break;
        if (performance.now() - t0 > 10 * INTERVAL_MS) throw new Error(`change ${i} not seen after ${10 * INTERVAL_MS} ms`);
        await sleep(1);
      }
      latencies.push(performance.now() - t0);
      kinds.push(cancel ? "cancel" : "upgrade");
    }
  } finally {
    sdk.close();
  }
  // One token fetch, measured alone (the SDK's own fetch of a user not cached yet).
  const single = timedFetch();
  const probe = createEntitlements({ baseUrl: w.url, apiKey: w.serviceKey, issuer: w.issuer, audience: w.audience, fetch: single.fetch, changes: false });
  for (let i = 0; i < 30; i++) await probe.forUser(`probe-${i}`);
  return { latencies, kinds, writeMs: median(writes), tokenFetchMs: median(single.tokens), tokenFetchP95Ms: percentile(single.tokens, 95), feedPollMs: median(t.polls.map((p) => p.ms)) };
}

/** Two SDKs polling the same worker at once: 10 users cached, and BIG_CACHE users cached. */
async function measurePollCost(w: WorkerHarness) {
  const lock = feedLock();
  const small = timedFetch(lock);
  const big = timedFetch(lock);
  const a = sdkFor(w, small.fetch);
  const b = sdkFor(w, big.fetch);
  try {
    const shared = Array.from({ length: 10 }, (_, i) => `cost-${i}`);
    for (const id of shared) await w.setEntitlement(id, { tier: "local", status: "active" });
    const started = performance.now();
    await cacheUsers(a, shared);
    await cacheUsers(b, [...shared, ...Array.from({ length: BIG_CACHE - shared.length }, (_, i) => `bulk-${i}`)]);
    const cacheSeconds = (performance.now() - started) / 1000;
    // Measure from here: the same users change for both (a change every 250 ms), so both get
    // the same pages; only the size of their caches differs.
    const from = performance.now();
    const smallFrom = small.polls.length;
    const bigFrom = big.polls.length;
    let n = 0;
    while (performance.now() - from < POLL_SECONDS * 1000) {
      const id = shared[n % shared.length]!;
      await w.setEntitlement(id, { tier: n % 2 ? "local" : "mobile", status: "active" });
      n++;
      await sleep(250);
    }
    const seconds = (performance.now() - from) / 1000;
    const smallPolls = small.polls.slice(smallFrom).map((p) => p.ms);
    const bigPolls = big.polls.slice(bigFrom).map((p) => p.ms);
    if (b.freshness().stale || a.freshness().stale) throw new Error("a feed poll failed during the measurement");
    return {
      cacheSeconds,
      seconds,
      changes: n,
      cachedBig: BIG_CACHE,
      smallMs: median(smallPolls),
      bigMs: median(bigPolls),
      smallPerInterval: smallPolls.length / (seconds / (INTERVAL_MS / 1000)),
      bigPerInterval: bigPolls.length / (seconds / (INTERVAL_MS / 1000)),
      smallPolls: smallPolls.length,
      bigPolls: bigPolls.length,
    };
  } finally {
    a.close();
    b.close();
  }
}

async function main() {
  const w = await startWorker();
  try {
    const latency = await measureChangeToDecision(w);
    const cost = await measurePollCost(w);
    const budget = INTERVAL_MS + latency.feedPollMs + latency.tokenFetchP95Ms;
    const metrics = {
      change_to_decision_ms: round(median(latency.latencies)),
      change_to_decision_max_ms: round(Math.max(...latency.latencies)),
      poll_ratio_10k_vs_10: round(cost.bigMs / cost.smallMs, 3),
    };
    const goals = {
      change_to_decision_ms: { op: "<=", value: INTERVAL_MS },
      change_to_decision_max_ms: { op: "<=", value: round(budget) },
      poll_ratio_10k_vs_10: { op: "<=", value: GOAL_POLL_RATIO },
    } as const;
    writeReport("freshness", {
      metrics,
      goals,
      details: {
        poll_interval_ms: INTERVAL_MS,
        change_max_budget: "one poll interval + one feed poll (median) + one token fetch (p95), measured in this run",
        write_ms: round(latency.writeMs, 2),
        change_latencies_ms: latency.latencies.map((x) => round(x)),
        change_kinds: latency.kinds,
        token_fetch_ms: round(latency.tokenFetchMs, 2),
        token_fetch_p95_ms: round(latency.tokenFetchP95Ms, 2),
        feed_poll_ms: round(latency.feedPollMs, 2),
        poll_10_users_ms: round(cost.smallMs, 2),
        poll_10k_users_ms: round(cost.bigMs, 2),
        users_cached_big: cost.cachedBig,
        polls_10_users: cost.smallPolls,
        polls_10k_users: cost.bigPolls,
        polls_per_interval_10_users: round(cost.smallPerInterval, 2),
        polls_per_interval_10k_users: round(cost.bigPerInterval, 2),
        poll_measurement_seconds: round(cost.seconds),
        changes_during_poll_measurement: cost.changes,
        seconds_to_cache_users: round(cost.cacheSeconds),
      },
      notes: [
        "change_to_decision_ms is measured from the moment w.setEntitlement (setEntitlementState through Miniflare's D1 proxy) resolves, i.e. once the change and its feed row are committed; write_ms is that write's own time.",
        "poll times are wall time around the SDK's fetch of GET /v1/entitlements/changes; both SDKs poll the same worker in the same period, one feed request at a time (a lock in the measuring fetch), while the same users change.",
      ],
    });
  } finally {
    await w.dispose();
  }
}

await main();
