/**
 * The test harness's own costs, which every end-to-end file pays while three files share two
 * cores (docs/testing.md). Run from the repository root (or all benches: npm run bench):
 *
 *   node_modules/.bin/tsx test/bench/harness.bench.ts
 *
 * Measures, in one run, and writes test/bench/results/harness.json:
 *   poll_cpu_ratio_bound_vs_rebuilt  this process's CPU for one turn of a wait on a D1 row with its
 *                                    statement prepared and bound once, before the loop, ÷ the same
 *                                    turn preparing and binding it every time, on Miniflare's D1
 *                                    proxy as the harness holds it (goal ≤ 0.5)
 * and, for information: each turn's CPU in ms, and the wall time and this process's CPU of a
 * worker start (startWorker: Miniflare, migrations, keys).
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { startWorker } from "../harness/worker.ts";
import { median, writeReport } from "./report.ts";

const ROUNDS = 5;
const TURNS = 200;
const STARTS = 3;
const SQL = "select status from stripe_events where id = ?";

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function main() {
  const starts: { wallS: number; cpuS: number }[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const w = await startWorker();
    starts.push({ wallS: (performance.now() - t) / 1000, cpuS: cpuMs(cpu) / 1000 });
    if (i < STARTS - 1) await w.dispose();
    else await polls(w, starts);
  }
}

async function polls(worker: Awaited<ReturnType<typeof startWorker>>, starts: { wallS: number; cpuS: number }[]) {
  // Miniflare's proxy itself, as a test holding it directly would poll: prepare and bind every turn.
  const raw = await worker.mf.getD1Database("DB");
  const id = "evt_bench_missing";
  const rebuilt: number[] = [];
  const bound: number[] = [];
  try {
    // Interleaved rounds, so a slower moment of the machine falls on both ways alike.
    for (let r = 0; r < ROUNDS; r++) {
      let cpu = process.cpuUsage();
      for (let i = 0; i < TURNS; i++) await raw.prepare(SQL).bind(id).first();
      rebuilt.push(cpuMs(cpu) / TURNS);
      cpu = process.cpuUsage();
      const statement = worker.db.prepare(SQL).bind(id);
      for (let i = 0; i < TURNS; i++) await statement.first();
      bound.push(cpuMs(cpu) / TURNS);
    }
  } finally {
    await worker.dispose();
  }
  const rebuiltMs = median(rebuilt);
  const boundMs = median(bound);
  const metrics = { poll_cpu_ratio_bound_vs_rebuilt: Number((boundMs / rebuiltMs).toFixed(3)) };
  writeReport("harness", {
    metrics,
    goals: { poll_cpu_ratio_bound_vs_rebuilt: { op: "<=", value: 0.5 } },
    details: {
      poll_turn_cpu_ms_rebuilt: Number(rebuiltMs.toFixed(3)),
      poll_turn_cpu_ms_bound: Number(boundMs.toFixed(3)),
      poll_rounds: ROUNDS,
      poll_turns_per_round: TURNS,
      worker_start_wall_s: starts.map((s) => Number(s.wallS.toFixed(2))),
      worker_start_node_cpu_s: starts.map((s) => Number(s.cpuS.toFixed(2))),
    },
    notes: ["The first start bundles the worker (esbuild); the others reuse the bundle, as a test run's files do."],
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
