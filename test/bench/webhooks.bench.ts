/**
 * Webhook ingestion: verify the Stripe signature + queue the event (the worker's queue consumer
 * stores it in batches, in the same workerd, during the run), through the real worker in
 * workerd (Miniflare), against the same load on a bare Hono route that only answers 200, in the
 * same run. The events are of a type that needs no Stripe fetch afterwards (charge.succeeded),
 * so what is measured is the endpoint itself, with its post-answer bookkeeping still running.
 *
 *   node --import tsx test/bench/webhooks.bench.ts     (or: npm run bench -- webhooks)
 * Writes test/bench/results/webhooks.json.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare, NoOpLog } from "miniflare";
import Stripe from "stripe";
import { ROOT, startWorker } from "../harness/worker.ts";
import { writeReport } from "./report.ts";

const SECRET = "whsec_bench_secret";
const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 16);
const ROUNDS = 5;
const GOAL_RATIO = 0.5;

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

function eventPayload(i: number, run: string): string {
  return JSON.stringify({
    id: `evt_bench_${run}_${i}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "charge.succeeded",
    data: { object: { id: `ch_bench_${run}_${i}`, object: "charge", amount: 2900, currency: "usd" } },
  });
}

/** Signs every payload first, so signing cost is outside the timed part. */
async function prepare(run: string): Promise<{ body: string; signature: string }[]> {
  const provider = Stripe.createSubtleCryptoProvider();
  return Promise.all(
    Array.from({ length: EVENTS }, async (_, i) => {
      const body = eventPayload(i, run);
      return { body, signature: await Stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret: SECRET, cryptoProvider: provider }) };
    }),
  );
}

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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const worker = await startWorker({ bindings: { STRIPE_WEBHOOK_SECRETS: SECRET, STRIPE_SECRET_KEY: "sk_test_bench", STRIPE_API_BASE: "http://127.0.0.1:9" } });
  const bare = await bareRoute();
  try {
    // Warm both up, then interleave rounds so machine noise hits both alike.
    await load(worker.url, (await prepare("warm")).slice(0, 200));
    await load(bare.url, (await prepare("warmbare")).slice(0, 200));
    const ingest: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ingest.push(await load(worker.url, await prepare(`r${r}`)));
      baseline.push(await load(bare.url, await prepare(`b${r}`)));
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
      details: { rounds: { ingest: ingest.map(Math.round), bare: baseline.map(Math.round) }, events_per_round: EVENTS, concurrency: CONCURRENCY },
    });
  } finally {
    await worker.dispose();
    await bare.dispose();
  }
}

await main();
