import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../worker/src/app";
import { pages, routes } from "../../worker/src/routes";
import { TOOLS } from "../../worker/src/tools/registry";
import { instantViolations, openApiInstantViolations } from "../structure/instants";
import { BASE, call, makeKey } from "./helpers";

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { "x-permission"?: string; requestBody?: { content: Record<string, { schema: JsonSchema }> }; responses: Record<string, unknown> }>>;
  components: { schemas?: Record<string, JsonSchema> };
}
interface JsonSchema {
  $ref?: string;
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
}

const document = async () => (await call("GET", "/openapi.json")).json<Doc>();

/** Hono's `/v1/x/:id` as OpenAPI's `/v1/x/{id}`. */
const openapiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every route the app mounts, except the pages that declare themselves hidden and the document itself", async () => {
    const doc = await document();
    // What Hono actually routes: app.use() middleware is method ALL; each route's own
    // middleware and handler are entries of the same method and path.
    const mounted = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${openapiPath(r.path)}`),
    );
    const hidden = new Set(pages.filter((p) => (p.route as { hide?: boolean }).hide).map((p) => `${p.route.method} ${p.route.path}`));
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    const missing = [...mounted].filter((r) => !documented.has(r) && !hidden.has(r) && r !== "get /openapi.json");
    expect(missing).toEqual([]);
    expect(mounted.size).toBeGreaterThan(routes.length);
    // And nothing documented that is not routed.
    expect([...documented].filter((r) => !mounted.has(r))).toEqual([]);
    for (const r of ["post /mcp", "get /docs", "get /v1/tools"]) expect(documented, r).toContain(r);
  });

  it("documents the Idempotency-Key header on exactly the writes that take it, and on no write that answers with a secret", async () => {
    const doc = await document();
    type Op = { "x-idempotent"?: boolean; parameters?: { in: string; name: string }[] };
    const ops = Object.entries(doc.paths).flatMap(([path, o]) => Object.entries(o as Record<string, Op>).map(([method, op]) => ({ at: `${method} ${path}`, op })));
    const takes = ops.filter(({ op }) => op.parameters?.some((p) => p.in === "header" && p.name === "idempotency-key")).map((o) => o.at);
    expect(takes.sort()).toEqual(
      ops
        .filter(({ op }) => op["x-idempotent"])
        .map((o) => o.at)
        .sort(),
    );
    // The refusals the key adds are documented on each of them.
    for (const { at, op } of ops.filter(({ op }) => op["x-idempotent"])) expect(Object.keys((op as { responses: object }).responses), at).toEqual(expect.arrayContaining(["409", "422"]));
    expect(takes).toEqual(expect.arrayContaining(["post /v1/checkout", "post /v1/subscriptions/{user_id}/cancel", "post /v1/subscriptions/{user_id}/change", "post /v1/tools/create_subscription"]));
    // Replaying them would keep the new key's secret in D1 for a day.
    expect(takes).not.toContain("post /v1/keys");
    expect(takes).not.toContain("post /v1/keys/{id}/rotate");
    expect(takes.every((at) => !at.startsWith("get "))).toBe(true);
  });

  it("documents each agent tool's input and output from the tool's own zod contract", async () => {
    const doc = await document();
    const resolve = (s: JsonSchema): JsonSchema => (s.$ref ? resolve(doc.components.schemas![s.$ref.split("/").pop()!]!) : s);
    for (const tool of TOOLS) {
      const op = doc.paths[`/v1/tools/${tool.name}`]?.post;
      expect(op, tool.name).toBeDefined();
      expect(op!["x-permission"]).toBe(tool.permission);
      const body = resolve(op!.requestBody!.content["application/json"]!.schema);
      const fromZod = z.toJSONSchema(tool.input, { io: "input", unrepresentable: "any" }) as JsonSchema;
      expect(Object.keys(body.properties ?? {}).sort(), tool.name).toEqual(Object.keys(fromZod.properties ?? {}).sort());
      expect([...(body.required ?? [])].sort(), tool.name).toEqual([...(fromZod.required ?? [])].sort());
      expect(op!.responses).toHaveProperty("200");
    }
  });
});

describe("time on the wire", () => {
  // What counts as an instant (by field name) and the made-up cases it fails on: test/structure/instants.ts.
  it("is an RFC 3339 date-time string at every instant of /openapi.json: parameters, bodies and responses", async () => {
    const doc = await document();
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    expect(openApiInstantViolations(doc as never)).toEqual([]);
  });

  it("is an RFC 3339 date-time string at every instant of each tool's input and output schema, as GET /v1/tools and MCP's tools/list publish them", async () => {
    const { key } = await makeKey("admin", { name: "wire-time" });
    const manifest = await (await call("GET", "/v1/tools", { key })).json<{ tools: { name: string; input_schema: object; output_schema: object }[] }>();
    expect(manifest.tools.map((t) => t.name).sort()).toEqual(TOOLS.map((t) => t.name).sort());
    for (const t of manifest.tools) {
      expect(instantViolations(t.input_schema, `${t.name} input`)).toEqual([]);
      expect(instantViolations(t.output_schema, `${t.name} output`)).toEqual([]);
    }
    const listed = await (await call("POST", "/mcp", { key, body: { jsonrpc: "2.0", id: 1, method: "tools/list" } })).json<{
      result: { tools: { name: string; inputSchema: object; outputSchema?: object }[] };
    }>();
    expect(listed.result.tools.filter((t) => t.outputSchema).length).toBeGreaterThan(0);
    for (const t of listed.result.tools) {
      expect(instantViolations(t.inputSchema, `mcp ${t.name} input`)).toEqual([]);
      expect(instantViolations(t.outputSchema ?? {}, `mcp ${t.name} output`)).toEqual([]);
    }
  });
});

describe("GET /docs", () => {
  it("serves the reference page with a CSP that allows scripts from the worker only, and its scripts as static files", async () => {
    const res = await call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|https?:)/);
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    const scripts = [...html.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]!);
    expect(scripts).toEqual(["/docs/static/vendor/scalar.standalone.js", "/docs/static/docs.js"]);
    // No inline script for the CSP to block: every <script> has a src.
    expect(html.match(/<script/g)!.length).toBe(scripts.length);
    // Served by Workers static assets before the worker runs (wrangler.toml [assets]).
    const assets = (env as unknown as { ASSETS: Fetcher }).ASSETS;
    for (const src of scripts) {
      const asset = await assets.fetch(`${BASE}${src}`);
      expect(asset.status, src).toBe(200);
      expect(asset.headers.get("content-type"), src).toMatch(/javascript/);
      expect((await asset.text()).length).toBeGreaterThan(100);
    }
  });
});
