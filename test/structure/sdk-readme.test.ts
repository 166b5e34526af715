/**
 * The README's examples must work as written against the real worker: its feature and limit keys
 * come from the worker's catalog, and its issuer and audience are the ones the worker signs with.
 * Types cannot carry the catalog's keys (they are widened to string there), so they are compared
 * here; packages/entitlements/test/readme-examples.typecheck.ts then makes any other key a compile error.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOG_DATA } from "../../worker/src/catalog.ts";

// It reads across the SDK and the worker, so it lives with the repository's own checks.
const sdk = join(import.meta.dirname, "../../packages/entitlements");
const readme = readFileSync(join(sdk, "README.md"), "utf8");
const typecheck = readFileSync(join(sdk, "test/readme-examples.typecheck.ts"), "utf8");
const wranglerToml = readFileSync(join(import.meta.dirname, "../../wrangler.toml"), "utf8");

const featureKeys = CATALOG_DATA.features.map((f) => f.key);
const limitKeys = CATALOG_DATA.limits.map((l) => l.key);

function featureTypeLine(text: string): string {
  const line = /^type Feature = .*;$/m.exec(text)?.[0];
  if (line === undefined) throw new Error("no `type Feature = ...;` line");
  return line;
}
const stringsIn = (text: string) => [...text.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
const codeBlocks = [...readme.matchAll(/```(?:ts|json)\n([\s\S]*?)```/g)].map((m) => m[1]!).join("\n");

/** The value of `NAME = "value"` in wrangler.toml's [vars] (what `wrangler dev` and deploys use). */
function wranglerVar(name: string): string | undefined {
  const start = wranglerToml.indexOf("\n[vars]");
  const end = wranglerToml.indexOf("\n[", start + 1);
  const section = wranglerToml.slice(start, end === -1 ? undefined : end);
  return new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(section)?.[1];
}

describe("README", () => {
  it("declares exactly the catalog's feature keys, with the same line as its type-check", () => {
    const line = featureTypeLine(readme);
    expect(featureTypeLine(typecheck)).toBe(line);
    expect(new Set(stringsIn(line))).toEqual(new Set(featureKeys));
  });

  it("uses only feature and limit keys of the catalog in its examples", () => {
    const features = [
      ...codeBlocks.matchAll(/(?:check|can|evaluate)\([^,]+,\s*"([^"]+)"/g),
      ...codeBlocks.matchAll(/requireFeature\(entitlements,\s*"([^"]+)"/g),
      ...codeBlocks.matchAll(/"feature":\s*"([^"]+)"/g),
    ].map((m) => m[1]!);
    expect(features.length).toBeGreaterThanOrEqual(4);
    for (const f of features) expect(featureKeys).toContain(f);
    const limits = [...codeBlocks.matchAll(/limit\([^,]+,\s*"([^"]+)"/g)].map((m) => m[1]!);
    expect(limits.length).toBeGreaterThanOrEqual(1);
    for (const l of limits) expect(limitKeys).toContain(l);
  });

  it("passes the issuer and audience the worker signs tokens with", () => {
    const issuer = wranglerVar("ENTITLEMENTS_ISSUER");
    const audience = wranglerVar("ENTITLEMENTS_AUDIENCE");
    expect(issuer).toMatch(/^https:\/\//);
    expect(audience).toBeTruthy();
    for (const text of [readme, typecheck]) {
      expect(/issuer: "([^"]+)"/.exec(text)?.[1]).toBe(issuer);
      expect(/audience: "([^"]+)"/.exec(text)?.[1]).toBe(audience);
    }
  });
});
