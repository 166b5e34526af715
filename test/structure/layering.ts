/**
 * The worker's layering rules, checked over its sources as text (no build, no dependency
 * graph tool): a small reader of import specifiers is enough for a code base that writes
 * `import ... from "..."` and nothing stranger.
 */
import path from "node:path";

/** Folders of plain TypeScript rules: they take dependencies as arguments and know no HTTP. */
export const DOMAIN_FOLDERS = ["billing", "entitlements", "auth", "audit", "dunning", "analytics", "email", "tools", "monitoring", "compliance", "idempotency", "presenters"];

export interface Violation {
  rule: "domain-imports-http" | "http-imported-outside-routes" | "date-now-outside-clock" | "import-cycle" | "route-without-method-and-path" | "entitlements-written-outside-state";
  file: string;
  detail: string;
}

/**
 * The one writer of the `entitlements` table: its `upsertEntitlement` writes the row and its
 * `entitlement_changes` row together. A write anywhere else (drizzle or SQL) would change a
 * user's access without the changes feed naming them.
 */
export const ENTITLEMENTS_WRITER = "entitlements/state.ts";
const ENTITLEMENTS_WRITE = /\.(?:insert|update|delete)\(\s*entitlements\s*\)|\b(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+[`"']?entitlements\b/i;

/** Source with comments blanked out, so a rule never fires on prose. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code(text).matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

/** The file a relative specifier names, among the known files (`x`, `x.ts`, `x.tsx`, `x/index.ts`). */
function resolve(from: string, spec: string, files: Map<string, string>): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((f) => files.has(f));
}

/**
 * @param files worker sources keyed by their path relative to worker/src (posix), e.g.
 *   `billing/sync.ts`.
 */
export function checkLayering(files: Map<string, string>): Violation[] {
  const violations: Violation[] = [];
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const top = file.split("/")[0]!;
    const edges: string[] = [];
    for (const spec of importsOf(text)) {
      const target = resolve(file, spec, files);
      if (target) edges.push(target);
      const intoHttp = target?.startsWith("http/") ?? false;
      if (DOMAIN_FOLDERS.includes(top) && (spec === "hono" || spec.startsWith("hono/") || spec.startsWith("@hono/") || intoHttp)) {
        violations.push({ rule: "domain-imports-http", file, detail: `imports ${spec}` });
      } else if (intoHttp && !["http", "routes"].includes(top) && file !== "app.ts") {
        violations.push({ rule: "http-imported-outside-routes", file, detail: `imports ${spec}` });
      }
    }
    graph.set(file, edges);
    if (file !== ENTITLEMENTS_WRITER && ENTITLEMENTS_WRITE.test(code(text))) {
      violations.push({ rule: "entitlements-written-outside-state", file, detail: "writes the entitlements table; use upsertEntitlement (it writes the change feed's row in the same batch)" });
    }
    if (file !== "clock.ts" && /\bDate\.now\s*\(/.test(code(text))) violations.push({ rule: "date-now-outside-clock", file, detail: "calls Date.now(); take a Clock instead" });
    // Views (JSX the page routes render) and shared schemas are not routes themselves.
    if (top === "routes" && file !== "routes/index.ts" && !file.endsWith("/schemas.ts") && !file.includes("/views/")) {
      const c = code(text);
      const declared = /createRoute\(\{[\s\S]*?\bmethod:\s*"(get|post|put|patch|delete)"[\s\S]*?\bpath:\s*"\/[^"]*"[\s\S]*?\bguard\(/.test(c);
      if (!declared) violations.push({ rule: "route-without-method-and-path", file, detail: 'declare createRoute({ method: "...", path: "/...", ...guard(permission) }) in the file' });
    }
  }
  for (const cycle of cycles(graph)) violations.push({ rule: "import-cycle", file: cycle[0]!, detail: cycle.join(" → ") });
  return violations;
}

/** Every elementary cycle found by a depth-first walk, each reported once (from its smallest file). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.indexOf([...loop].sort()[0]!);
        const canonical = [...loop.slice(start), ...loop.slice(0, start)];
        found.set(canonical.join(">"), [...canonical, canonical[0]!]);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...found.values()];
}
