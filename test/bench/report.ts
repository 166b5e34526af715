/**
 * How every bench reports: its metrics against their goals, written to
 * test/bench/results/<name>.json and printed, with one `PASS`/`MISS` line per goal (run.ts
 * counts those lines).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");

/** The middle value of the runs (the upper one of an even count): one slow or fast run moves nothing. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export type Goals<M> = { readonly [K in keyof M]?: { readonly op: ">=" | "<="; readonly value: number } };

export function writeReport<M extends Record<string, number>>(name: string, report: { metrics: M; goals: Goals<M>; details?: Record<string, unknown>; notes?: readonly string[] }): void {
  const pass: Record<string, boolean> = {};
  for (const [k, g] of Object.entries(report.goals) as [keyof M & string, { op: ">=" | "<="; value: number }][]) {
    const v = report.metrics[k] as number;
    pass[k] = g.op === ">=" ? v >= g.value : v <= g.value;
  }
  const result = {
    generated_at: new Date().toISOString(),
    environment: { node: process.version, platform: `${process.platform}-${process.arch}` },
    metrics: report.metrics,
    goals: report.goals,
    pass,
    ...(report.details ? { details: report.details } : {}),
    ...(report.notes ? { notes: report.notes } : {}),
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  for (const [k, g] of Object.entries(report.goals) as [keyof M & string, { op: string; value: number }][]) {
    console.log(`${pass[k] ? "PASS" : "MISS"}  ${k} = ${(report.metrics[k] as number).toLocaleString("en-US")}  (goal ${g.op} ${g.value.toLocaleString("en-US")})`);
  }
}
