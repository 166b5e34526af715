import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { filesUnder, misnamedFiles } from "./file-names";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** worker/src, every packages/<name>/src and scripts: the code the repository ships or runs. */
function sourceFiles(): string[] {
  const packages = readdirSync(path.join(ROOT, "packages"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `packages/${e.name}/src`);
  return ["worker/src", ...packages, "scripts"].flatMap((dir) => filesUnder(ROOT, dir));
}

describe("source file names", () => {
  it("are kebab-case in worker/src, packages/*/src and scripts", () => {
    const files = sourceFiles();
    expect(files.filter((f) => f.startsWith("packages/stripe-emulator/src/")).length).toBeGreaterThan(20);
    expect(files.some((f) => f.startsWith("worker/src/"))).toBe(true);
    expect(misnamedFiles(files)).toEqual([]);
  });

  it("fail on a camelCase or PascalCase name in a made-up list, and pass suffixes and other files", () => {
    expect(
      misnamedFiles([
        "packages/x/src/resources/paymentMethods.ts",
        "worker/src/billing/SyncJob.ts",
        "scripts/loadData.mjs",
        "worker/src/routes/dashboard/views/Layout.tsx",
        "worker/src/billing/payment_methods.ts",
        "packages/x/src/resources/payment-methods.ts",
        "worker/src/routes/dashboard/views/layout.tsx",
        "packages/x/src/types.d.ts",
        "scripts/vendor-assets.mjs",
        "packages/x/src/a2b-v3.test.ts",
        "scripts/README.md",
        "worker/src/assets/Logo.svg",
      ]),
    ).toEqual([
      "packages/x/src/resources/paymentMethods.ts",
      "worker/src/billing/SyncJob.ts",
      "scripts/loadData.mjs",
      "worker/src/routes/dashboard/views/Layout.tsx",
      "worker/src/billing/payment_methods.ts",
    ]);
  });
});
