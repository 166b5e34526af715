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
        "stripe-sync/a.ts": `import { Hono } from "hono";`,
        "http/errors.ts": "",
        "dunning/b.ts": `import { ApiError } from "../http/errors";`,
        "tools/c.ts": `import { z } from "@hono/zod-openapi";`,
      }),
    ).toEqual(["domain-imports-http stripe-sync/a.ts", "domain-imports-http dunning/b.ts", "domain-imports-http tools/c.ts"]);
  });

  it("fails when code other than routes and the app imports http/", () => {
    expect(rules({ "cron.ts": `import { ApiError } from "./http/errors";`, "http/errors.ts": "", "app.ts": `import { onError } from "./http/errors";` })).toEqual([
      "http-imported-outside-routes cron.ts",
    ]);
  });

  it("fails when Date.now() appears outside the clock module, but not in a comment", () => {
    expect(rules({ "clock.ts": "export const now = () => Date.now();", "stripe-sync/a.ts": "// not Date.now() here\nconst t = Date.now();", "audit/b.ts": "/** Date.now() */ export {};" })).toEqual([
      "date-now-outside-clock stripe-sync/a.ts",
    ]);
  });

  it("fails when the entitlements table is written anywhere but state.ts (the writer that adds the changes feed's row)", () => {
    expect(
      rules({
        "entitlements/state.ts": "db.insert(entitlements).values(v)",
        "stripe-sync/a.ts": "await db.update(entitlements).set({ tier: null })",
        "stripe-sync/b.ts": 'await d1.prepare("INSERT OR REPLACE INTO entitlements (user_id) VALUES (?)")',
        "dunning/c.ts": "sql`delete from entitlements where user_id = ${id}`",
        "entitlements/d.ts": "db.select().from(entitlements); db.insert(entitlementChanges); // db.update(entitlements)",
      }),
    ).toEqual(["entitlements-written-outside-state stripe-sync/a.ts", "entitlements-written-outside-state stripe-sync/b.ts", "entitlements-written-outside-state dunning/c.ts"]);
  });

  it("fails on an import circle, type-only imports included", () => {
    expect(
      rules({
        "env.ts": `import type { M } from "./stripe-sync";`,
        "stripe-sync/index.ts": `export type { M } from "./ingest";`,
        "stripe-sync/ingest.ts": `import { env } from "../env";`,
        "log.ts": "",
      }),
    ).toEqual(["import-cycle env.ts"]);
  });

  it("follows an import through a folder's index.ts to the files that define the names taken", () => {
    const tree = (name: string) => ({
      "services.ts": `import type { ${name} } from "./audit";`,
      "audit/index.ts": `export { writer } from "./append";\nexport { type Row, verify } from "./verify";`,
      "audit/append.ts": "export const writer = 1;",
      "audit/verify.ts": `import type { Services } from "../services";`,
    });
    expect(rules(tree("writer"))).toEqual([]);
    expect(rules(tree("Row"))).toEqual(["import-cycle audit/verify.ts"]);
  });

  it("fails when folders import each other, though no file circle closes", () => {
    const tree = {
      "dunning/index.ts": `export { openCase } from "./cases";\nexport { tick } from "./tick";`,
      "dunning/cases.ts": "export const openCase = 1;",
      "dunning/tick.ts": `import { syncObjects } from "../stripe-sync";`,
      "stripe-sync/index.ts": `export { syncObjects } from "./sync";`,
      "stripe-sync/sync.ts": `import { openCase } from "../dunning";`,
    };
    expect(rules(tree)).toEqual(["folder-cycle dunning/"]);
    expect(rules({ ...tree, "stripe-sync/sync.ts": "export const syncObjects = 1;" })).toEqual([]);
  });

  it("fails when code outside a folder imports one of its inner files instead of its index.ts", () => {
    expect(
      rules({
        "stripe-sync/index.ts": `export { syncObjects } from "./sync";`,
        "stripe-sync/sync.ts": `import { subscriptions } from "../db/schema";\nimport { Stripe } from "./stripe";`,
        "stripe-sync/stripe.ts": "",
        "db/schema.ts": "",
        "dunning/policy.ts": "",
        "subscriptions/cancel.ts": `import { syncObjects } from "../stripe-sync/sync";`,
        "subscriptions/pause.ts": `import { syncObjects } from "../stripe-sync";`,
        "cron.ts": `import { policy } from "./dunning/policy";`,
        "services.ts": `import type { DunningPolicy } from "./dunning/policy";`,
      }),
    ).toEqual(["inner-file-import subscriptions/cancel.ts", "inner-file-import cron.ts"]);
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
