import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "entitlements",
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 10_000,
  },
});
