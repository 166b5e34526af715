/**
 * Rules over the README and docs/, as text: they must describe the code that is there and point
 * only at things a reader who clones the repository has.
 */
import path from "node:path";

export const README_MAX_LINES = 250;

/**
 * The folders of worker/src that the architecture document does not name. A folder counts as
 * named when the document writes it as code with its trailing slash (`billing/`), as the
 * folder table does: the bare word ("billing") appears in prose about other things.
 */
export function foldersMissingFromDoc(folders: readonly string[], doc: string): string[] {
  return folders.filter((f) => !doc.includes(`\`${f}/\``));
}

export function lineCount(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/**
 * Lines citing the design document that lives outside the repository (`ARCHITECTURE.md`, or a
 * section sign as in "§6"): a reader who clones the repository cannot follow them.
 */
export function outsideCitations(text: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  text.split("\n").forEach((l, i) => {
    if (/ARCHITECTURE\.md|§/.test(l)) found.push({ line: i + 1, text: l.trim() });
  });
  return found;
}

/** Relative link targets of Markdown links and images (`[x](target)`), `file#fragment` kept. */
export function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    out.push(target);
  }
  return out;
}

/** The anchors GitHub gives a Markdown document's headings (lower case, punctuation dropped, spaces to hyphens). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * Links among `links` (written in the document `from`) whose file does not exist, or whose
 * `#fragment` names no heading of a Markdown target.
 */
export function brokenLinks(links: readonly string[], from: string, read: (p: string) => string | undefined): string[] {
  return links.filter((link) => {
    const [file, fragment] = link.split("#") as [string, string | undefined];
    const target = file === "" ? from : path.posix.join(path.posix.dirname(from), file);
    const text = read(target);
    if (text === undefined) return true;
    return fragment !== undefined && target.endsWith(".md") && !headingAnchors(text).has(fragment);
  });
}

const REPO_ROOTS = ["worker/", "test/", "scripts/", "packages/", "examples/", "migrations/", "docs/", ".ci/"];

/**
 * Repository paths written as code (`worker/src/catalog.ts`, `test/worker/`), those a reader
 * would open. Patterns and placeholders (`*`, `<name>`, `…`, `{id}`) are not paths.
 */
export function codePaths(markdown: string): string[] {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/`([^`\s]+)`/g)) {
    const p = m[1]!;
    if (!REPO_ROOTS.some((r) => p.startsWith(r))) continue;
    if (/[*<>{}…]|\.\.\./.test(p)) continue;
    out.add(p);
  }
  return [...out];
}

/** Which of `targets` (relative to the document `from`, or to the root when `fromRoot`) do not exist. */
export function missingTargets(targets: readonly string[], from: string, exists: (p: string) => boolean, fromRoot = false): string[] {
  return targets.filter((t) => !exists(fromRoot ? t : path.posix.join(path.posix.dirname(from), t)));
}
