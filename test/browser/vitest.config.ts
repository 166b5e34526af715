import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

// Pages in a real browser: Debian's chromium driven by playwright-core (.ci/run installs it).
export default defineConfig({
  test: {
    name: "browser",
    environment: "node",
    root,
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
