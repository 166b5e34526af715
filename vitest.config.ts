import { defineConfig } from "vitest/config";

// One command runs every suite: the worker in workerd, and the packages in Node.
export default defineConfig({
  test: {
    projects: ["test/worker/vitest.config.ts", "test/e2e/vitest.config.ts", "packages/entitlements/vitest.config.ts", "packages/stripe-emulator/vitest.config.ts"],
  },
});
