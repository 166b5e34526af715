import { defineConfig } from "vitest/config";

// One command runs every suite: the worker in workerd, and the packages in Node.
export default defineConfig({
  test: {
    // The JSON report lets CI print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "node_modules/.cache/vitest-results.json" }]],
    projects: ["test/worker/vitest.config.ts", "test/e2e/vitest.config.ts", "test/structure/vitest.config.ts", "test/browser/vitest.config.ts", "packages/entitlements/vitest.config.ts", "packages/stripe-emulator/vitest.config.ts"],
  },
});
