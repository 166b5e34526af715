import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

// End-to-end tests in Node: the worker runs in workerd through test/harness/worker.ts.
export default defineConfig({
  test: {
    name: "e2e",
    environment: "node",
    root,
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
