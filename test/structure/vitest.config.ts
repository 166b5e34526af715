import path from "node:path";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "../..");

// Checks over the sources themselves (layering rules), in Node.
export default defineConfig({
  test: { name: "structure", environment: "node", root, include: ["test/structure/**/*.test.ts"] },
});
