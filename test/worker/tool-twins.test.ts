/**
 * A tool never grants what its REST twin refuses: every tool in the registry is walked against
 * the route it declares as its twin (`twin`), role by role, by the permission table and over
 * the wire, through POST /v1/tools/{name} and through MCP.
 */
import { SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { beforeAll, describe, expect, it } from "vitest";
import { roleHas, type Permission } from "../../worker/src/auth/permissions";
import { ROLES, type Role } from "../../worker/src/db/schema";
import { MCP_FORBIDDEN } from "../../worker/src/mcp/server";
import { routes } from "../../worker/src/routes";
import { TOOLS, type Tool } from "../../worker/src/tools/registry";
import type { TwinRoute } from "../../worker/src/tools/types";
import { BASE, call, freshIp, makeKey } from "./helpers";

const keys = {} as Record<Role, string>;

beforeAll(async () => {
  for (const role of ROLES) keys[role] = (await makeKey(role, { name: `twin-${role}` })).key;
});

/** The twin routes as the app registers them, and the permission each declares. */
function twinsOf(tool: Tool): { method: string; path: string; permission: Permission }[] {
  if ("none" in tool.twin) return [];
  const twins: readonly TwinRoute[] = Array.isArray(tool.twin) ? tool.twin : [tool.twin as TwinRoute];
  expect(twins.length, `${tool.name} names no twin`).toBeGreaterThan(0);
  return twins.map(({ method, path }) => {
    const route = routes.find((r) => r.route.method === method.toLowerCase() && r.route.path === path);
    expect(route, `${tool.name}'s twin ${method} ${path} is not a route of the app`).toBeDefined();
    return { method, path, permission: route!.route["x-permission"] };
  });
}

async function mcpClient(key: string): Promise<Client> {
  const ip = freshIp();
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    fetch: (url, init) => SELF.fetch(url, init),
    requestInit: { headers: { "cf-connecting-ip": ip, authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: "twin-test", version: "1.0.0" }, { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
  await client.connect(transport);
  return client;
}

describe("every agent tool against its REST twin", () => {
  it("each tool names a twin route of the app, or says why it has none", () => {
    expect(TOOLS.length).toBeGreaterThanOrEqual(5);
    for (const tool of TOOLS) {
      if ("none" in tool.twin) expect(tool.twin.none.length, tool.name).toBeGreaterThan(20);
      else twinsOf(tool);
    }
    expect(TOOLS.filter((t) => !("none" in t.twin)).length).toBeGreaterThanOrEqual(4);
  });

  for (const tool of TOOLS.filter((t) => !("none" in t.twin))) {
    it(`${tool.name}: each role is refused the tool, over HTTP and MCP, exactly when it is refused its twin`, async () => {
      for (const role of ROLES) {
        // Every twin must refuse the role for the tool to refuse it: a tool of several forms does what each of its routes does.
        const twins = twinsOf(tool);
        const refused = !roleHas(role, tool.permission);
        for (const twin of twins) {
          expect(!roleHas(role, twin.permission), `${role}: ${tool.name} (${tool.permission}) vs ${twin.method} ${twin.path} (${twin.permission})`).toBe(refused);
          // The permission is checked before the input: an empty one is enough to tell.
          const rest = await call(twin.method, twin.path.replace(/\{[^}]+\}/g, "twin_test_1"), { key: keys[role], ...(twin.method === "GET" ? {} : { body: {} }) });
          expect(rest.status === 403, `${role} on ${twin.method} ${twin.path}: HTTP ${rest.status}`).toBe(refused);
        }

        const http = await call("POST", `/v1/tools/${tool.name}`, { key: keys[role], body: {} });
        expect(http.status === 403, `${role} on POST /v1/tools/${tool.name}: HTTP ${http.status}`).toBe(refused);

        const client = await mcpClient(keys[role]);
        const listed = (await client.listTools()).tools.map((t) => t.name);
        expect(listed.includes(tool.name), `${role} lists ${tool.name} over MCP`).toBe(!refused);
        const outcome = await client.callTool({ name: tool.name, arguments: {} }).catch((e: unknown) => e);
        expect(outcome instanceof McpError && outcome.code === MCP_FORBIDDEN, `${role} calls ${tool.name} over MCP: ${outcome instanceof Error ? outcome.message : JSON.stringify(outcome)}`).toBe(
          refused,
        );
        await client.close();
      }
    });
  }
});

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}

/** The failing fields without where they sat (`body.`, `path.`, `arguments.`), with their messages. */
const failing = (p: Problem) => (p.errors ?? []).map((e) => ({ field: e.field.replace(/^(body|path|query|arguments)\./, ""), message: e.message }));

describe("the same bad input gets the same problem from a route and from its tool twin", () => {
  const valid = { user_id: "twin_input_user", email: "twin@example.test", tier: "local" };
  const cases: [string, Record<string, unknown>][] = [
    ["a malformed email", { email: "not an email" }],
    ["a malformed user id", { user_id: "no spaces allowed" }],
    ["a malformed promotion code", { promotion_code: "SPRING SALE!" }],
    ["a return URL that is not http(s)", { success_url: "ftp://app.test/billing" }],
    ["a return URL on another origin", { cancel_url: "https://evil.test/billing" }],
    ["a malformed test clock id", { test_clock: "clock-1" }],
    ["an unknown tier", { tier: "gold" }],
    ["an unknown billing_cycle", { billing_cycle: "weekly" }],
  ];

  for (const [what, bad] of cases) {
    it(`${what}: POST /v1/checkout and create_subscription (over HTTP and MCP) name the same field with the same type, detail and message`, async () => {
      const input = { ...valid, ...bad };
      const route = await call("POST", "/v1/checkout", { key: keys.admin, body: input });
      const tool = await call("POST", "/v1/tools/create_subscription", { key: keys.admin, body: input });
      expect(route.status, what).toBe(400);
      expect(tool.status, what).toBe(400);
      const fromRoute = await route.json<Problem>();
      const fromTool = await tool.json<Problem>();
      expect(fromRoute.errors?.map((e) => e.field)).toEqual([`body.${Object.keys(bad)[0]}`]);
      expect({ type: fromTool.type, detail: fromTool.detail, errors: fromTool.errors }).toEqual({ type: fromRoute.type, detail: fromRoute.detail, errors: fromRoute.errors });

      // MCP names arguments, not a body, and its detail says so; the rule and its words are the same.
      const client = await mcpClient(keys.admin);
      const result = await client.callTool({ name: "create_subscription", arguments: input });
      await client.close();
      expect(result.isError).toBe(true);
      const fromMcp = JSON.parse((result.content as { text: string }[])[0]!.text) as Problem;
      expect(fromMcp.type).toBe(fromRoute.type);
      expect(failing(fromMcp)).toEqual(failing(fromRoute));
    });
  }

  it("a malformed user id: GET /v1/entitlements/{user_id} and enforce_tier_access give the same type and message", async () => {
    const badId = "no spaces allowed";
    const route = await call("GET", `/v1/entitlements/${encodeURIComponent(badId)}`, { key: keys.admin });
    const tool = await call("POST", "/v1/tools/enforce_tier_access", { key: keys.admin, body: { user_id: badId, feature: "local_job_search", current_tier: "none" } });
    const fromRoute = await route.json<Problem>();
    const fromTool = await tool.json<Problem>();
    expect(route.status).toBe(400);
    expect(fromTool.type).toBe(fromRoute.type);
    expect(failing(fromTool)).toEqual(failing(fromRoute));
  });
});
