import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brokenLinks, codePaths, foldersMissingFromDoc, headingAnchors, lineCount, missingTargets, outsideCitations, README_MAX_LINES, relativeLinks } from "./docs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (p: string) => readFileSync(path.join(ROOT, p), "utf8");
const exists = (p: string) => existsSync(path.join(ROOT, p));
const readIfThere = (p: string) => (exists(p) ? (p.endsWith(".md") ? read(p) : "") : undefined);

const workerFolders = () =>
  readdirSync(path.join(ROOT, "worker/src"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

/** README.md and every Markdown file of docs/, as paths from the root. */
const documents = () => [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

describe("docs/architecture.md", () => {
  it("names every folder of worker/src", () => {
    const folders = workerFolders();
    expect(folders.length).toBeGreaterThan(10);
    expect(foldersMissingFromDoc(folders, read("docs/architecture.md"))).toEqual([]);
  });

  it("fails for a folder the document leaves out, or mentions only as a word", () => {
    const doc = "| `billing/` | Stripe |\n| `audit/` | the log |\nThe dunning tick runs every 15 minutes.";
    expect(foldersMissingFromDoc(["audit", "billing", "dunning", "payouts"], doc)).toEqual(["dunning", "payouts"]);
  });
});

describe("README", () => {
  it(`stays a front page of at most ${README_MAX_LINES} lines`, () => {
    expect(lineCount(read("README.md"))).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it("counts lines as an editor does", () => {
    expect(lineCount("")).toBe(0);
    expect(lineCount("one\n")).toBe(1);
    expect(lineCount("one\ntwo")).toBe(2);
    expect(lineCount(`${"line\n".repeat(251)}`)).toBeGreaterThan(README_MAX_LINES);
  });

  it("keeps the test command CI runs: npm test", () => {
    expect(read("README.md")).toMatch(/```sh\nnpm test\n```/);
  });
});

describe("README.md and docs/", () => {
  it("cite no document outside the repository (ARCHITECTURE.md, §N)", () => {
    const found = documents().flatMap((d) => outsideCitations(read(d)).map((c) => `${d}:${c.line} ${c.text}`));
    expect(found).toEqual([]);
  });

  it("find such a citation in a made-up text", () => {
    expect(outsideCitations("# Analytics (§7)\nfine\nSee ../shared/ARCHITECTURE.md.").map((c) => c.line)).toEqual([1, 3]);
  });

  it("link only to files and headings that exist", () => {
    const broken = documents().flatMap((d) => brokenLinks(relativeLinks(read(d)), d, readIfThere).map((t) => `${d} → ${t}`));
    expect(broken).toEqual([]);
  });

  it("name only repository paths that exist", () => {
    const missing = documents().flatMap((d) => missingTargets(codePaths(read(d)), d, exists, true).map((t) => `${d}: ${t}`));
    expect(missing).toEqual([]);
  });

  it("find broken links and a path that is gone in a made-up document", () => {
    const doc = "See [errors](api.md#errors), [time](api.md#time), [up](#intro), [the site](https://example.com), ![shot](gone.png) and `worker/src/gone.ts`, `worker/src/<folder>/`, `test/*.ts`.";
    const files: Record<string, string> = { "docs/api.md": "# API\n## Errors: RFC 9457 problems\n## Errors\n```sh\n# Time\n```", "docs/x.md": "# Intro", "worker/src/app.ts": "" };
    expect([...headingAnchors(files["docs/api.md"]!)]).toEqual(["api", "errors-rfc-9457-problems", "errors"]);
    expect(brokenLinks(relativeLinks(doc), "docs/x.md", (p) => files[p])).toEqual(["api.md#time", "gone.png"]);
    expect(missingTargets(codePaths(doc), "docs/x.md", (p) => p in files, true)).toEqual(["worker/src/gone.ts"]);
  });
});
