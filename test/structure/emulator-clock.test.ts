import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { filesUnder } from "./file-names";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EMULATOR_SRC = "packages/stripe-emulator/src";
/** Core.realNowMs(): the emulator's one clock, wall time only when no `now` was injected. */
const CLOCK_FILE = `${EMULATOR_SRC}/core.ts`;

/** Files of `sources` (path → text) that read wall time outside the clock, comments aside. */
function wallTimeReaders(sources: Map<string, string>): string[] {
  const reads = /\bDate\.now\s*\(|\bnew Date\(\s*\)|\bperformance\.now\s*\(/;
  return [...sources].filter(([file, text]) => file !== CLOCK_FILE && reads.test(text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1"))).map(([file]) => file);
}

describe("the Stripe emulator's time", () => {
  it("is read only through its clock in core.ts", () => {
    const files = filesUnder(ROOT, EMULATOR_SRC).filter((f) => f.endsWith(".ts"));
    expect(files).toContain(CLOCK_FILE);
    expect(wallTimeReaders(new Map(files.map((f) => [f, readFileSync(path.join(ROOT, f), "utf8")])))).toEqual([]);
  });

  it("fails on a wall-time read in a made-up file, but not in a comment or in core.ts", () => {
    const sources = new Map([
      [CLOCK_FILE, "return this.options.now ? this.options.now() : Date.now();"],
      [`${EMULATOR_SRC}/server.ts`, "if (Date.now() - prior.createdMs < TTL) {}"],
      [`${EMULATOR_SRC}/webhooks/deliver.ts`, "const at = new Date();"],
      [`${EMULATOR_SRC}/billing/scheduler.ts`, "const t0 = performance.now();"],
      [`${EMULATOR_SRC}/ids.ts`, "// not Date.now() here\n/** nor new Date() */ const d = new Date(ms);"],
    ]);
    expect(wallTimeReaders(sources)).toEqual([`${EMULATOR_SRC}/server.ts`, `${EMULATOR_SRC}/webhooks/deliver.ts`, `${EMULATOR_SRC}/billing/scheduler.ts`]);
  });
});
