import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkLayering, importsOf } from "./layering";

const SRC = path.resolve(import.meta.dirname, "../../worker/src");

function workerSources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(SRC, full).split(path.sep).join("/"), readFileSync(full, "utf8"));
  }
  return files;
}

const tree = (files: Record<string, string>) => new Map(Object.entries(files));
const rules = (files: Record<string, string>) => checkLayering(tree(files)).map((v) => `${v.rule} ${v.file}`);

const goodRoute = `import { createRoute } from "@hono/zod-openapi";
import { guard } from "../../http/route";
const route = createRoute({ method: "get", path: "/v1/things", ...guard("public"), responses: {} });`;

describe("worker layering", () => {
  it("holds for the worker as it is", () => {
    const files = workerSources();
    expect(files.size).toBeGreaterThan(40);
    expect(checkLayering(files)).toEqual([]);
  });

  it("reads static, type-only, re-export and dynamic imports, and ignores ones in comments", () => {
    expect(
      importsOf(`import a from "./a";\nimport type { B } from "./b";\nexport { c } from "./c";\nimport "./d";\nconst e = await import("./e");\n// import x from "./x";\n/* import y from "./y"; */`),
    ).toEqual(["./a", "./b", "./c", "./d", "./e"]);
  });

  it("fails when a domain folder imports hono or http/", () => {
    expect(
      rules({
        "billing/a.ts": `import { Hono } from "hono";`,
        "http/errors.ts": "",
        "dunning/b.ts": `import { ApiError } from "../http/errors";`,
        "tools/c.ts": `import { z } from "@hono/zod-openapi";`,
      }),
    ).toEqual(["domain-imports-http billing/a.ts", "domain-imports-http dunning/b.ts", "domain-imports-http tools/c.ts"]);
  });

  it("fails when code other than routes and the app imports http/", () => {
    expect(rules({ "cron.ts": `import { ApiError } from "./http/errors";`, "http/errors.ts": "", "app.ts": `import { onError } from "./http/errors";` })).toEqual([
      "http-imported-outside-routes cron.ts",
    ]);
  });

  it("fails when Date.now() appears outside the clock module, but not in a comment", () => {
    expect(rules({ "clock.ts": "export const now = () => Date.now();", "billing/a.ts": "// not Date.now() here\nconst t = Date.now();", "audit/b.ts": "/** Date.now() */ export {};" })).toEqual([
      "date-now-outside-clock billing/a.ts",
    ]);
  });

  it("fails when the entitlements table is written anywhere but state.ts (the writer that adds the changes feed's row)", () => {
    expect(
      rules({
        "entitlements/state.ts": "db.insert(entitlements).values(v)",
        "billing/a.ts": "await db.update(entitlements).set({ tier: null })",
        "billing/b.ts": 'await d1.prepare("INSERT OR REPLACE INTO entitlements (user_id) VALUES (?)")',
        "dunning/c.ts": "sql`delete from entitlements where user_id = ${id}`",
        "entitlements/d.ts": "db.select().from(entitlements); db.insert(entitlementChanges); // db.update(entitlements)",
      }),
    ).toEqual(["entitlements-written-outside-state billing/a.ts", "entitlements-written-outside-state billing/b.ts", "entitlements-written-outside-state dunning/c.ts"]);
  });

  it("fails on an import circle, type-only imports included", () => {
    expect(rules({ "env.ts": `import type { M } from "./billing/ingest";`, "billing/ingest.ts": `import { env } from "../env";`, "log.ts": "" })).toEqual(["import-cycle billing/ingest.ts"]);
  });

  it("fails when a route file does not declare its own method and path", () => {
    expect(
      rules({
        "http/route.ts": "",
        "routes/things/list.ts": goodRoute,
        "routes/things/get.ts": `import { createRoute } from "@hono/zod-openapi";\nconst route = createRoute({ ...SPECS.get, responses: {} });`,
        "routes/things/schemas.ts": "export {};",
        "routes/index.ts": "export {};",
      }),
    ).toEqual(["route-without-method-and-path routes/things/get.ts"]);
  });
});
