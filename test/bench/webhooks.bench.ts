/**
 * Webhook ingestion: verify the Stripe signature + queue the event (the worker's queue consumer
 * stores it in batches, in the same workerd, during the run), through the real worker in
 * workerd (Miniflare), against the same load on a bare Hono route that only answers 200, in the
 * same run. The events are of a type that needs no Stripe fetch afterwards (charge.succeeded),
 * so what is measured is the endpoint itself, with its post-answer bookkeeping still running.
 *
 * Profile (details.profile): where a request's time goes, by ablation. workerd's clock does not
 * move while a request computes (performance.now() advances only on I/O), so timing the parts
 * inside the worker would read zero for every CPU part; instead each part is switched off in a
 * bench-only build of the worker (esbuild replaces one module, or the queue binding; production
 * code is untouched), and the variants run in the same rounds as the route and the bare route.
 * At this concurrency the two cores are saturated, so 1/throughput is the machine time a
 * request costs, and a part's cost is how much less a request costs without it.
 *
 * Neither the worker nor the bare route has the local asset router in front of it. wrangler.toml's
 * [assets] makes wrangler dev (and the test harness) route every request through a second worker
 * in the same workerd before ours; on Cloudflare that routing happens before the Worker runs and
 * is not its CPU. Locally it costs about 0.45 ms a request, as much again as the bare route, so
 * measuring the route behind it and the bare route without it compared unlike things (the
 * ratio fell from about 0.5 to 0.3 when the harness began serving [assets]). The profile reports
 * that router's cost apart (`local_asset_router_ms`: the unchanged worker behind it, variant
 * behind_asset_router, less the route), outside the route's parts.
 *
 * The consumer runs with wrangler.toml's settings (batches of up to 100, 1 s batch timeout), not
 * the tests' 50 ms timeout: what is measured is ingestion as deployed, and the consumer's share
 * of the machine depends on how many events each of its runs stores.
 *
 * details.profile_before: the profile of an earlier version of the route, carried over from the
 * previous results file with the commit it was measured at, so a rework of the route shows its
 * breakdown before and after side by side (issue 28); delete it from the file to drop it.
 *
 *   node --import tsx test/bench/webhooks.bench.ts     (or: npm run bench -- webhooks)
 * Writes test/bench/results/webhooks.json.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare, NoOpLog } from "miniflare";
import { ROOT, startWorker, WORKER_BUILD, type WorkerHarness } from "../harness/worker.ts";
import { signedChargeEvents } from "./signed-events.ts";
import { median, writeReport } from "./report.ts";

const SECRET = "whsec_bench_secret";
const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 16);
const ROUNDS = 5;
/** Events per round for each profile variant (the route and the bare route take EVENTS). */
/** BENCH_WEBHOOK_PROFILE=0: only the route against the bare route (the ratio), no profile. */
const PROFILE = process.env.BENCH_WEBHOOK_PROFILE !== "0";
const PROFILE_EVENTS = Number(process.env.BENCH_WEBHOOK_PROFILE_EVENTS ?? 1000);
const GOAL_RATIO = 0.5;
/** wrangler.toml's max_batch_timeout of the stripe-events consumer. */
const BATCH_TIMEOUT_S = 1;
const RESULTS_FILE = path.join(ROOT, "test/bench/results/webhooks.json");

async function bareRoute(): Promise<{ url: string; dispose: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "pia-bare-"));
  const out = await build({
    stdin: {
      contents: `import { Hono } from "hono";
        const app = new Hono();
        app.post("/webhooks/stripe", async (c) => { await c.req.text(); return c.json({ received: true, duplicate: false }); });
        export default app;`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    write: false,
    logLevel: "silent",
  });
  const scriptPath = path.join(dir, "bare.mjs");
  writeFileSync(scriptPath, out.outputFiles[0]!.contents);
  const mf = new Miniflare(convertV4MiniflareOptions({ name: "bare", modules: true, scriptPath, modulesRoot: dir, compatibilityDate: "2026-11-01", host: "127.0.0.1", port: 0, log: new NoOpLog() }));
  return { url: String(await mf.ready).replace(/\/+$/, ""), dispose: () => mf.dispose() };
}

/**
 * The worker with parts of the webhook path switched off. `modules` replaces a module (matched by
 * the end of its path, e.g. `http/access-log.ts`: exactly one file of the worker must match) with
 * other source; `noQueue` gives the
 * worker a queue binding whose send does nothing (so the consumer has nothing to store either);
 * `noConsumer` keeps the send and makes the consumer ack each batch without storing it.
 */
interface Variant {
  name: string;
  modules?: Record<string, string>;
  noQueue?: boolean;
  noConsumer?: boolean;
  /** Behind the local asset router, as wrangler dev serves the worker (see the header); not one of the route's parts. */
  assets?: boolean;
}

const VARIANTS: Variant[] = [
  // The route as built for production, at the variants' round length: the reference of the profile.
  { name: "full" },
  // The access log line (matchedRoutes, JSON.stringify, console.log), nothing else.
  { name: "no_access_log", modules: { "http/access-log.ts": `export function accessLog() { return async (_c, next) => { await next(); }; }` } },
  // Signature check (header parse, HMAC-SHA256 through SubtleCrypto, compare) off; the JSON parse stays.
  {
    name: "no_signature_check",
    modules: {
      "stripe-sync/verify-webhook.ts": `import { DomainError } from "../errors";
        export async function verifyWebhook(raw) {
          try { return JSON.parse(raw); } catch { throw new DomainError("malformed_json", "The signed body is not valid JSON."); }
        }`,
    },
  },
  // Neither signature check nor JSON parse: the event's id and type read off the raw body with two
  // regular expressions (the first "id" and "type" keys are the event's in these payloads), so
  // the consumer still finds the message matching its payload and stores it as before.
  {
    name: "no_signature_no_parse",
    modules: {
      "stripe-sync/verify-webhook.ts": `export async function verifyWebhook(raw) {
          const id = /"id":"([^"]+)"/.exec(raw)[1];
          const type = /"type":"([^"]+)"/.exec(raw)[1];
          return { id, object: "event", type, created: Math.floor(Date.now() / 1000), data: { object: { id: "ch_prof", object: "charge" } } };
        }`,
    },
  },
  { name: "no_queue_send", noQueue: true },
  // The route unchanged, its messages acked by the consumer unstored: what the consumer's storing costs.
  { name: "no_consumer_store", noConsumer: true },
  // The handler's domain call does nothing: what is left is the framework and the middleware.
  { name: "handler_returns", modules: { "stripe-sync/receive.ts": `export async function receiveWebhook() { return { duplicate: false }; }` } },
  // The route unchanged, behind wrangler.toml's [assets] router as wrangler dev serves it.
  { name: "behind_asset_router", assets: true },
];

/** A bench-only bundle of the worker with the variant's parts off. */
async function bundleVariant(v: Variant): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), `pia-variant-${v.name}-`));
  const entry = path.join(ROOT, "worker/src/index.ts");
  const replaced = new Map<string, string>();
  const scriptPath = path.join(dir, "worker.mjs");
  await build({
    ...(v.noQueue
      ? {
          stdin: {
            // The env object is kept per original env, as workerd keeps one: the worker memoizes its config on it.
            contents: `import worker from ${JSON.stringify(entry)};
              const noQueue = { send: async () => {}, sendBatch: async () => {} };
              const envs = new WeakMap();
              export default { ...worker, fetch(req, env, ctx) {
                let e = envs.get(env);
                if (!e) envs.set(env, (e = { ...env, EVENTS: noQueue }));
                return worker.fetch(req, e, ctx);
              } };`,
            resolveDir: ROOT,
            loader: "ts",
          },
        }
      : v.noConsumer
        ? {
            stdin: {
              contents: `import worker from ${JSON.stringify(entry)};
                export default { ...worker, async queue(batch, env, ctx) {
                  if (batch.queue === "stripe-events") return batch.ackAll();
                  return worker.queue(batch, env, ctx);
                } };`,
              resolveDir: ROOT,
              loader: "ts",
            },
          }
        : { entryPoints: [entry] }),
    plugins: [
      {
        name: "bench-variant",
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, (args) => {
            const file = args.path.split(path.sep).join("/");
            const name = Object.keys(v.modules ?? {}).find((m) => file.endsWith(`/${m}`));
            if (name === undefined) return undefined;
            const other = replaced.get(name);
            if (other !== undefined && other !== file) throw new Error(`variant ${v.name}: ${name} matches both ${other} and ${file}; name more of its path`);
            replaced.set(name, file);
            return { contents: v.modules![name]!, loader: "ts", resolveDir: path.dirname(args.path) };
          });
        },
      },
    ],
    ...WORKER_BUILD,
    outfile: scriptPath,
  });
  const missing = Object.keys(v.modules ?? {}).filter((m) => !replaced.has(m));
  if (missing.length > 0) throw new Error(`variant ${v.name}: no module named ${missing.join(", ")} in the worker (renamed? update the bench)`);
  return scriptPath;
}

const prepare = (run: string) => signedChargeEvents(EVENTS, `bench_${run}`, SECRET);

async function load(url: string, requests: { body: string; signature: string }[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const res = await fetch(`${url}/webhooks/stripe`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": r.signature }, body: r.body });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  return requests.length / ((performance.now() - started) / 1000);
}

/**
 * Waits (untimed) until the worker's consumer has stored what its round queued: its rows stop
 * growing. Otherwise a variant's leftover storing would run in the next variant's round. (Not
 * drainQueue: a variant may not store its sentinel.)
 */
async function settled(w: WorkerHarness): Promise<void> {
  let last = -1;
  for (let i = 0; i < 600; i++) {
    const n = (await w.db.prepare("select count(*) as n from stripe_events").first<{ n: number }>())!.n;
    if (n === last) return;
    last = n;
    // Longer than the batch timeout: a batch still waiting to fill shows up before the count is trusted.
    await new Promise((r) => setTimeout(r, BATCH_TIMEOUT_S * 1000 + 300));
  }
}

/** The previous results file's profile_before, kept as it was (see the header). */
function profileBefore(): unknown {
  if (!existsSync(RESULTS_FILE)) return undefined;
  return (JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as { details?: { profile_before?: unknown } }).details?.profile_before;
}

/** The commit measured, `+changes` when the worker's source differs from it; undefined outside a git checkout. */
function measuredCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "worker/src") ? "+changes" : ""}`;
  } catch {
    return undefined;
  }
}

/** Milliseconds of machine time per request at a rate (the cores are saturated at this concurrency). */
const msPer = (perS: number) => 1000 / perS;
const round3 = (x: number) => Number(x.toFixed(3));

/**
 * One round's parts of a webhook request: each part's cost in ms of machine time per request.
 * The bare route's own cost (workerd, HTTP, the load generator) is the floor every request pays;
 * what no variant isolates is `rest`.
 */
function parts(bare: number, v: Record<string, number>): Record<string, number> {
  const total = msPer(v.full!);
  const p: Record<string, number> = {
    bare_route_floor: msPer(bare),
    framework_and_middleware: msPer(v.handler_returns!) - msPer(bare) - (total - msPer(v.no_access_log!)),
    rate_limiting: 0,
    access_log: total - msPer(v.no_access_log!),
    signature_verification: total - msPer(v.no_signature_check!),
    json_parse: msPer(v.no_signature_check!) - msPer(v.no_signature_no_parse!),
    queue_send: msPer(v.no_consumer_store!) - msPer(v.no_queue_send!),
    consumer_store: total - msPer(v.no_consumer_store!),
  };
  p.rest = total - Object.values(p).reduce((x, y) => x + y, 0);
  return { total, ...p, local_asset_router: msPer(v.behind_asset_router!) - total };
}

/** Each part's median over the rounds (each round's variants ran minutes apart at most, so share its noise). */
function breakdown(rounds: Record<string, number>[]) {
  const keys = Object.keys(rounds[0]!);
  const ms = Object.fromEntries(keys.map((k) => [k, median(rounds.map((r) => r[k]!))]));
  const { total, local_asset_router, ...rest } = ms;
  return {
    method:
      "ablation: each part switched off in a bench-only build, run in the same rounds as the unchanged route (variant full, same round length) and the bare route, each variant's consumer left to finish between rounds (untimed); ms = machine time per request (1000 / req/s, the cores being saturated), a part = full's ms minus its variant's, per round, then the median over rounds; share = part / full's ms. rate_limiting is 0 by construction: the webhook route has a router of its own without the API's per-address limit, and its guard (stripe_signature) is keyless, so no limiter runs. queue_send is the send alone (the variant whose consumer acks unstored, less the one that sends nothing); consumer_store is the consumer storing the events in D1, in the same workerd. Differences of noisy rates: a small part can come out negative. Neither the route nor the bare route runs behind the local asset router; local_asset_router_ms is its cost (variant behind_asset_router less the route), not one of the route's parts.",
    route_ms_per_request: round3(total!),
    local_asset_router_ms: round3(local_asset_router!),
    ms_per_request: Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, round3(x)])),
    share: Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, round3(x / total!)])),
  };
}

async function main() {
  const bindings = { STRIPE_WEBHOOK_SECRETS: SECRET, STRIPE_SECRET_KEY: "sk_test_bench", STRIPE_API_BASE: "http://127.0.0.1:9" };
  const before = profileBefore();
  const worker = await startWorker({ bindings, queueBatchTimeoutSeconds: BATCH_TIMEOUT_S, assets: false });
  const bare = await bareRoute();
  const variants: { v: Variant; w: WorkerHarness }[] = [];
  try {
    for (const v of PROFILE ? VARIANTS : [])
      variants.push({ v, w: await startWorker({ bindings, queueBatchTimeoutSeconds: BATCH_TIMEOUT_S, scriptPath: await bundleVariant(v), assets: v.assets === true }) });
    // Warm everything up, then interleave rounds so machine noise hits all alike.
    await load(worker.url, (await prepare("warm")).slice(0, 200));
    await load(bare.url, (await prepare("warmbare")).slice(0, 200));
    for (const { v, w } of variants) await load(w.url, (await prepare(`warm${v.name}`)).slice(0, 200));
    const ingest: number[] = [];
    const baseline: number[] = [];
    const profile: Record<string, number[]> = Object.fromEntries(variants.map(({ v }) => [v.name, []]));
    const profileRounds: Record<string, number>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ingest.push(await load(worker.url, await prepare(`r${r}`)));
      baseline.push(await load(bare.url, await prepare(`b${r}`)));
      // Rotated each round, so no variant always runs last (furthest from the route's figure).
      for (let i = 0; i < variants.length; i++) {
        const { v, w } = variants[(i + r) % variants.length]!;
        profile[v.name]!.push(await load(w.url, (await prepare(`p${r}${v.name}`)).slice(0, PROFILE_EVENTS)));
        await settled(w);
      }
      if (variants.length > 0) profileRounds.push(parts(baseline[r]!, Object.fromEntries(Object.entries(profile).map(([k, xs]) => [k, xs[r]!]))));
    }
    // The route answers once the event is on the queue; its consumer stores it a little later.
    await worker.drainQueue();
    // The queue may still be storing a batch that started before the sentinel's: wait for the count.
    let stored: { n: number } | null = null;
    for (let i = 0; i < 300; i++) {
      stored = await worker.db.prepare("select count(*) as n from stripe_events where id like 'evt_bench_r%'").first<{ n: number }>();
      if (stored?.n === EVENTS * ROUNDS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (stored?.n !== EVENTS * ROUNDS) throw new Error(`expected ${EVENTS * ROUNDS} stored events, found ${stored?.n}`);
    const ingestPerS = median(ingest);
    const barePerS = median(baseline);
    writeReport("webhooks", {
      metrics: {
        ingest_events_per_s: Math.round(ingestPerS),
        bare_route_requests_per_s: Math.round(barePerS),
        ingest_ratio_vs_bare_route: Number((ingestPerS / barePerS).toFixed(3)),
      },
      goals: { ingest_ratio_vs_bare_route: { op: ">=", value: GOAL_RATIO } },
      details: {
        rounds: { ingest: ingest.map(Math.round), bare: baseline.map(Math.round), ...Object.fromEntries(Object.entries(profile).map(([k, xs]) => [k, xs.map(Math.round)])) },
        events_per_round: EVENTS,
        profile_events_per_round: PROFILE_EVENTS,
        concurrency: CONCURRENCY,
        consumer_batch_timeout_s: BATCH_TIMEOUT_S,
        ...(profileRounds.length > 0 ? { profile: { commit: measuredCommit(), ...breakdown(profileRounds) } } : {}),
        ...(before !== undefined ? { profile_before: before } : {}),
      },
    });
  } finally {
    await worker.dispose();
    await bare.dispose();
    for (const { w } of variants) await w.dispose();
  }
}

await main();
