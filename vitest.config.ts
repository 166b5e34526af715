import { defineConfig } from "vitest/config";
import { LongFilesFirst } from "./test/harness/sequencer.ts";

// One command runs every suite: the worker in workerd, and the packages in Node.
export default defineConfig({
  test: {
    // At most three files at once in all (each project sets its own maxWorkers: vitest applies
    // this root value as the overall cap, not to the projects, which otherwise run their files
    // one after the other on a 2-core machine).
    maxWorkers: 3,
    sequence: { sequencer: LongFilesFirst },
    // The JSON report lets CI print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "node_modules/.cache/vitest-results.json" }]],
    // The worker logs one line per request (monitoring): thousands in a run, and a failure's
    // own output is lost among them. Tests that assert on that line spy on the console instead.
    onConsoleLog: (log) => !log.includes('"message":"request"'),
    projects: [
      "test/worker/vitest.config.ts",
      "test/worker/vitest.isolated.config.ts",
      "test/e2e/vitest.config.ts",
      "test/structure/vitest.config.ts",
      "test/browser/vitest.config.ts",
      "packages/entitlements/vitest.config.ts",
      "packages/stripe-emulator/vitest.config.ts",
    ],
  },
});
