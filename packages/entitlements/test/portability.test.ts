import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../src");
const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));

describe("portability (Node ≥ 20, Bun, Deno, Workers)", () => {
  it.each(files)("%s uses no Node-only API and imports nothing but jose at runtime", (file) => {
    const code = readFileSync(join(SRC, file), "utf8");
    expect(code).not.toMatch(/from\s+["']node:/);
    expect(code).not.toMatch(/\b(Buffer|process|require)\s*[.(]/);
    const runtimeImports = [...code.matchAll(/^import\s+(?!type\b)[^;]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]);
    for (const spec of runtimeImports) expect(spec === "jose" || spec!.startsWith(".")).toBe(true);
  });

  it("bundles for a neutral platform, tree-shaken, under 20 kB gzipped", async () => {
    const out = await build({
      entryPoints: [join(SRC, "index.ts"), join(SRC, "hono.ts"), join(SRC, "node.ts"), join(SRC, "webhooks.ts")],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      write: false,
      outdir: "out",
      logLevel: "silent",
    });
    for (const f of out.outputFiles) {
      expect(gzipSync(f.contents).length).toBeLessThan(20_000);
      expect(f.text).not.toMatch(/from"hono"|from"node:/);
    }
  });
});
