import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

// Pages in a real browser: Debian's chromium driven by playwright-core (.ci/run installs it).
export default defineConfig({
  test: {
    name: "browser",
    // Files side by side: each project's own setting (vitest's root maxWorkers caps only the total).
    maxWorkers: 3,
    environment: "node",
    root,
    include: ["test/browser/**/*.test.ts"],
    // One bundle of the worker for every file of the run, not one per file.
    globalSetup: ["test/harness/bundle.setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
