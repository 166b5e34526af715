import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

// End-to-end tests in Node: the worker runs in workerd through test/harness/worker.ts.
export default defineConfig({
  test: {
    name: "e2e",
    environment: "node",
    root,
    // Three files at once: the suites mostly wait on HTTP, workerd, the emulator and timers, not
    // the CPU (measured on 2 cores: the whole run 490 s one file at a time, 268 s three at once).
    maxWorkers: 3,
    include: ["test/e2e/**/*.test.ts"],
    // One bundle of the worker for every file of the run, not one per file.
    globalSetup: ["test/harness/bundle.setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
