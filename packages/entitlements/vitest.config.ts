import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "entitlements",
    // Files side by side: each project's own setting (vitest's root maxWorkers caps only the total).
    maxWorkers: 3,
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
