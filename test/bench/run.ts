/**
 * npm run bench                 every test/bench/*.bench.ts, one after the other
 * npm run bench -- sdk          only the benches whose file name contains "sdk"
 *
 * Each bench runs in its own Node ≥ 22 process with tsx's loader (`node --import tsx <file>`),
 * so one bench's JIT state, caches and workers cannot skew the next one. Its output is passed
 * through as it comes. A bench measures against a baseline taken in the same run, writes
 * test/bench/results/<name>.json and prints one `PASS` or `MISS` line per goal; a missed goal
 * does not fail the run, a crash (non-zero exit, signal, or over BENCH_TIMEOUT_S, default 600 s)
 * does: exit code 1.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;

/** This Node if it is ≥ 22 (the project's engine), else the one the `node` devDependency installs. */
function nodeBinary(): string {
  const major = Number(process.versions.node.split(".")[0]);
  const local = path.join(ROOT, "node_modules/node/bin/node");
  if (major < 22 && existsSync(local)) return local;
  return process.execPath;
}

interface Outcome {
  file: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  seconds: number;
  goals: { verdict: "PASS" | "MISS"; line: string }[];
}

function runBench(node: string, file: string): Promise<Outcome> {
  const started = performance.now();
  const goals: Outcome["goals"] = [];
  return new Promise((resolve) => {
    const child = spawn(node, ["--import", "tsx", file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^(PASS|MISS)\s/.exec(line);
        if (m) goals.push({ verdict: m[1] as "PASS" | "MISS", line: line.trim() });
      }
    });
    child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ file, code, signal, timedOut, seconds: (performance.now() - started) / 1000, goals });
    };
    child.on("error", (err) => {
      process.stderr.write(`could not start ${file}: ${err.message}\n`);
      finish(1, null);
    });
    child.on("close", finish);
  });
}

async function main() {
  const filters = process.argv.slice(2);
  const files = readdirSync(HERE)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort()
    .map((f) => path.relative(ROOT, path.join(HERE, f)));
  if (files.length === 0) {
    console.error(`no benchmark matches ${filters.join(", ") || "test/bench/*.bench.ts"}`);
    process.exit(1);
  }
  const node = nodeBinary();
  const version = node === process.execPath ? process.version : "(node_modules/node)";
  console.log(`Running ${files.length} benchmark${files.length > 1 ? "s" : ""} with Node ${version}: ${files.join(", ")}\n`);

  const outcomes: Outcome[] = [];
  for (const file of files) {
    console.log(`━━━ ${file} ━━━`);
    const o = await runBench(node, file);
    outcomes.push(o);
    console.log();
  }

  console.log("━━━ summary ━━━");
  let crashed = 0;
  for (const o of outcomes) {
    const ok = o.code === 0 && !o.timedOut;
    if (!ok) crashed++;
    const status = ok ? "ok" : o.timedOut ? `TIMEOUT after ${TIMEOUT_MS / 1000} s` : o.signal ? `CRASHED (${o.signal})` : `CRASHED (exit ${o.code})`;
    const pass = o.goals.filter((g) => g.verdict === "PASS").length;
    console.log(`${status.padEnd(8)} ${o.file}  ${o.seconds.toFixed(1)} s  goals: ${pass} PASS, ${o.goals.length - pass} MISS`);
    for (const g of o.goals.filter((x) => x.verdict === "MISS")) console.log(`           ${g.line}`);
  }
  if (crashed > 0) {
    console.error(`\n${crashed} benchmark${crashed > 1 ? "s" : ""} crashed.`);
    process.exit(1);
  }
}

await main();
