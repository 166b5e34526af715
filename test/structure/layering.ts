/**
 * The worker's layering rules, checked over its sources as text (no build, no dependency
 * graph tool): a small reader of import specifiers is enough for a code base that writes
 * `import ... from "..."` and nothing stranger.
 */
import path from "node:path";

/** Folders of plain TypeScript rules: they take dependencies as arguments and know no HTTP. */
export const DOMAIN_FOLDERS = [
  "stripe-sync",
  "subscriptions",
  "entitlements",
  "auth",
  "audit",
  "dunning",
  "analytics",
  "email",
  "tools",
  "monitoring",
  "compliance",
  "idempotency",
  "presenters",
  "outbox",
  "outbound",
];

/**
 * Folders whose inner files others may import directly: `db/` is the shared base every folder
 * builds on (`schema.ts`, `client.ts`, the guards), `http/` and `routes/` are the HTTP layer, kept
 * apart by rules of their own (only routes and the app import `http/`; only the app imports
 * `routes/index.ts`). Every other folder is entered through its `index.ts`.
 */
export const OPEN_FOLDERS = ["db", "http", "routes"];

/**
 * The `Services` type every folder imports names each dependency's type at the file that defines
 * it: through a folder's index.ts, a type check of any file would load every folder.
 */
export const SERVICES_TYPE = "services.ts";

export interface Violation {
  rule:
    | "domain-imports-http"
    | "http-imported-outside-routes"
    | "date-now-outside-clock"
    | "import-cycle"
    | "folder-cycle"
    | "inner-file-import"
    | "route-without-method-and-path"
    | "entitlements-written-outside-state";
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

/** What an import statement takes from its module: named bindings, or `*` for the whole module (namespace, default, side effect, dynamic). */
export interface ImportOf {
  spec: string;
  names: string[] | "*";
}

export function importNamesOf(text: string): ImportOf[] {
  const out: ImportOf[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:([^"';]*?)\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code(text).matchAll(re)) {
    if (m[3]) {
      out.push({ spec: m[3], names: "*" });
      continue;
    }
    const braces = m[1]?.trim().match(/^\{([^}]*)\}$/);
    const names = braces
      ? braces[1]!
          .split(",")
          .map(
            (s) =>
              s
                .trim()
                .replace(/^type\s+/, "")
                .split(/\s+as\s+/)[0]!,
          )
          .filter(Boolean)
      : "*";
    out.push({ spec: m[2]!, names });
  }
  return out;
}

/** The top-level folder a file is in, or null for a top-level file (`services.ts`). */
const folderOf = (file: string): string | null => (file.includes("/") ? file.split("/")[0]! : null);

/**
 * The files an import of `names` from a folder's index.ts reaches: each name's own file when the
 * index re-exports it by name, else the index itself (a name it declares, or `export *`).
 */
function throughIndex(index: string, names: string[] | "*", files: Map<string, string>): string[] {
  if (names === "*") return [index];
  const byName = new Map<string, string>();
  for (const m of code(files.get(index)!).matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s*from\s*["']([^"']+)["']/g)) {
    const target = resolve(index, m[2]!, files);
    if (!target) continue;
    for (const part of m[1]!.split(",")) {
      const name = part
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .at(-1)!;
      if (name) byName.set(name, target);
    }
  }
  return [...new Set(names.map((n) => byName.get(n) ?? index))];
}

/** The file a relative specifier names, among the known files (`x`, `x.ts`, `x.tsx`, `x/index.ts`). */
function resolve(from: string, spec: string, files: Map<string, string>): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((f) => files.has(f));
}

/**
 * @param files worker sources keyed by their path relative to worker/src (posix), e.g.
 *   `stripe-sync/sync.ts`.
 */
export function checkLayering(files: Map<string, string>): Violation[] {
  const violations: Violation[] = [];
  const graph = new Map<string, string[]>();
  const folders = new Map<string, Set<string>>();
  for (const [file, text] of files) {
    const top = file.split("/")[0]!;
    const edges: string[] = [];
    const from = folderOf(file);
    for (const { spec, names } of importNamesOf(text)) {
      const target = resolve(file, spec, files);
      const into = target ? folderOf(target) : null;
      if (target && into !== null && into !== from) {
        // An import through a folder's index.ts depends on the files that define the names taken.
        edges.push(...(target === `${into}/index.ts` ? throughIndex(target, names, files) : [target]));
        if (from !== null) folders.set(from, (folders.get(from) ?? new Set()).add(into));
        if (!OPEN_FOLDERS.includes(into) && target !== `${into}/index.ts` && file !== SERVICES_TYPE) {
          violations.push({ rule: "inner-file-import", file, detail: `imports ${target}; import ${into}/ (its index.ts) instead` });
        }
      } else if (target) edges.push(target);
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
  const folderGraph = new Map([...folders].map(([f, to]) => [f, [...to].sort()]));
  for (const cycle of cycles(folderGraph)) violations.push({ rule: "folder-cycle", file: `${cycle[0]!}/`, detail: cycle.map((f) => `${f}/`).join(" → ") });
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
