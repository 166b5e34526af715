import { SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { beforeAll, describe, expect, it } from "vitest";
import { roleHas } from "../../worker/src/auth/permissions";
import { ROLES, type Role } from "../../worker/src/db/schema";
import { MCP_FORBIDDEN, MCP_RESOURCE_NOT_FOUND } from "../../worker/src/mcp/server";
import { findTool, TOOLS } from "../../worker/src/tools/registry";
import { failedRenewal } from "./dunning-helpers";
import { BASE, call, count, freshIp, makeKey } from "./helpers";

const keys = {} as Record<Role, string>;

beforeAll(async () => {
  for (const role of ROLES) keys[role] = (await makeKey(role, { name: `mcp-${role}` })).key;
});

/** The official SDK client, its HTTP going to the worker as a remote client's would. */
async function connect(key: string | undefined): Promise<Client> {
  const ip = freshIp();
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    fetch: (url, init) => SELF.fetch(url, init),
    requestInit: { headers: { "cf-connecting-ip": ip, ...(key ? { authorization: `Bearer ${key}` } : {}) } },
  });
  const client = new Client({ name: "mcp-test", version: "1.0.0" }, { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
  await client.connect(transport);
  return client;
}

/** A tool call's structured output, checked against the tool's own zod output contract. */
function output(name: string, result: CallToolResult): Record<string, unknown> {
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  const parsed = findTool(name)!.output.safeParse(result.structuredContent);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual(result.structuredContent);
  return result.structuredContent as Record<string, unknown>;
}

const json = async (path: string, key: string) => (await call("GET", path, { key })).json();

describe("MCP endpoint", () => {
  it("lists each role exactly the tools its permissions allow, with JSON Schemas of their inputs and outputs", async () => {
    for (const role of ROLES) {
      const client = await connect(keys[role]);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort(), role).toEqual(
        TOOLS.filter((t) => roleHas(role, t.permission))
          .map((t) => t.name)
          .sort(),
      );
      for (const tool of tools) {
        const spec = findTool(tool.name)!;
        expect(tool.description).toBe(spec.description);
        expect(tool.inputSchema.type).toBe("object");
        // Every key of the seed's examples is a property the schema declares; no union at the top, which model APIs refuse.
        for (const example of spec.examples) for (const key of Object.keys(example as object)) expect(tool.inputSchema.properties, `${tool.name}.${key}`).toHaveProperty(key);
        for (const union of ["anyOf", "oneOf", "allOf"]) expect(tool.inputSchema, `${tool.name}: ${union} at the top`).not.toHaveProperty(union);
        expect(tool.annotations?.readOnlyHint).toBe(spec.access === "read");
      }
      await client.close();
    }
    expect(TOOLS.map((t) => t.name).sort()).toEqual([
      "create_subscription",
      "dispute_summary",
      "enforce_tier_access",
      "generate_revenue_report",
      "manage_dunning_process",
      "manage_seats",
      "process_refund",
      "process_webhook",
    ]);
  });

  it("runs every tool with the seed's example input through the registry's implementation", async () => {
    const admin = await connect(keys.admin);

    const checkout = output(
      "create_subscription",
      (await admin.callTool({ name: "create_subscription", arguments: { user_id: "user_123", tier: "mobile", billing_cycle: "monthly" } })) as CallToolResult,
    );
    expect(JSON.stringify(checkout)).toMatch(/https?:\/\//);

    // The organization form of the seed's example, under an org_id of this run's own.
    const agency = (findTool("create_subscription")!.examples[1] as { organization: Record<string, unknown> }).organization;
    const orgId = `org_mcp_${Date.now().toString(36)}`;
    const bought = output("create_subscription", (await admin.callTool({ name: "create_subscription", arguments: { organization: { ...agency, org_id: orgId } } })) as CallToolResult);
    expect(bought).toMatchObject({ outcome: "organization_created", organization: { org_id: orgId, seats: 25, po_number: "PO-2026-0042", invoices: [{ status: "open", amount_due: 975_000 }] } });

    const access = output(
      "enforce_tier_access",
      (await admin.callTool({ name: "enforce_tier_access", arguments: { user_id: "user_123", feature: "nationwide_job_search", current_tier: "mobile" } })) as CallToolResult,
    );
    // Checkout was only started: nothing is stored, so the agent's "mobile" is contradicted.
    expect(access).toMatchObject({ allowed: false, tier_mismatch: true });

    output("generate_revenue_report", (await admin.callTool({ name: "generate_revenue_report", arguments: { period: "monthly" } })) as CallToolResult);

    // The examples name Stripe objects (cus_123, an invoice): a real declined renewal provides them.
    const { customer, s } = await failedRenewal();
    const dunning = output(
      "manage_dunning_process",
      (await admin.callTool({ name: "manage_dunning_process", arguments: { customer_id: customer.id, failure_count: 2, amount: 49.0 } })) as CallToolResult,
    );
    expect(JSON.stringify(dunning)).toContain(customer.id);

    const invoice = (await s.invoices.list({ customer: customer.id, status: "open" })).data[0]!;
    const webhook = output(
      "process_webhook",
      (await admin.callTool({ name: "process_webhook", arguments: { type: "invoice.payment_failed", data: { object: { id: invoice.id, object: "invoice" } } } })) as CallToolResult,
    );
    expect(JSON.stringify(webhook)).toContain(invoice.id);
    await admin.close();
  });

  it("answers a bad argument with a problem naming it, as a tool error the model can correct", async () => {
    const client = await connect(keys.service);
    const result = (await client.callTool({ name: "create_subscription", arguments: { user_id: "user_123", tier: "gold", billing_cycle: "monthly" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    const problem = JSON.parse((result.content[0] as { text: string }).text);
    expect(problem).toMatchObject({ status: 400, code: "validation_failed", type: expect.stringMatching(/validation-failed$/) });
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(["arguments.tier"]);
    await client.close();
  });

  it("refuses an analyst's call of a writing tool with an MCP error, and lets it run a reading one", async () => {
    const analyst = await connect(keys.analyst);
    const before = await count("audit_log");
    for (const name of ["create_subscription", "process_webhook", "manage_dunning_process"]) {
      const refused = await analyst.callTool({ name, arguments: findTool(name)!.examples[0] as Record<string, unknown> }).catch((e: unknown) => e);
      expect(refused, name).toBeInstanceOf(McpError);
      expect((refused as McpError).code).toBe(MCP_FORBIDDEN);
      expect((refused as McpError).message).toMatch(/analyst key may not call/);
    }
    expect(await count("audit_log")).toBe(before);
    output("generate_revenue_report", (await analyst.callTool({ name: "generate_revenue_report", arguments: { period: "monthly" } })) as CallToolResult);
    await analyst.close();
  });

  it("reads the catalog and a user's subscription as the API gives them", async () => {
    const { userId } = await failedRenewal();
    for (const role of ["admin", "analyst"] as const) {
      const client = await connect(keys[role]);
      expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["billing://catalog"]);
      expect((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)).toEqual(["billing://subscriptions/{user_id}"]);

      const catalog = await client.readResource({ uri: "billing://catalog" });
      expect(JSON.parse((catalog.contents[0] as { text: string }).text)).toEqual(await json("/v1/catalog", keys[role]));

      const sub = await client.readResource({ uri: `billing://subscriptions/${userId}` });
      expect(sub.contents[0]!.mimeType).toBe("application/json");
      expect(JSON.parse((sub.contents[0] as { text: string }).text)).toEqual(await json(`/v1/subscriptions/${userId}`, keys[role]));

      const missing = await client.readResource({ uri: "billing://subscriptions/user_nobody" }).catch((e: unknown) => e);
      expect((missing as McpError).code).toBe(MCP_RESOURCE_NOT_FOUND);
      const unknown = await client.readResource({ uri: "billing://invoices" }).catch((e: unknown) => e);
      expect((unknown as McpError).code).toBe(MCP_RESOURCE_NOT_FOUND);
      await client.close();
    }
  });

  it("answers a subscription URI with a broken percent-escape or a malformed user id as invalid params naming it, not as our own failure", async () => {
    const client = await connect(keys.analyst);
    for (const uri of ["billing://subscriptions/user_%E0%A4%A", `billing://subscriptions/${"u".repeat(129)}`, "billing://subscriptions/user%20with%20spaces"]) {
      const refused = await client.readResource({ uri }).catch((e: unknown) => e);
      expect(refused, uri).toBeInstanceOf(McpError);
      expect((refused as McpError).code, uri).toBe(ErrorCode.InvalidParams);
      expect((refused as McpError).data, uri).toMatchObject({ status: 400, code: "validation_failed", errors: [{ field: "uri.user_id" }] });
    }
    await client.close();
  });

  it("needs an API key: none is a 401 problem, and the SDK client cannot connect", async () => {
    const res = await call("POST", "/mcp", { body: { jsonrpc: "2.0", id: 1, method: "tools/list" }, headers: { accept: "application/json, text/event-stream" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expect(connect(undefined)).rejects.toThrow(/401|unauthenticated/i);
    await expect(connect("fja_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).rejects.toThrow(/401|unauthenticated/i);
  });

  it("answers plain JSON-RPC over POST, and 405 to the stream a stateless server does not offer", async () => {
    const res = await call("POST", "/mcp", { key: keys.analyst, body: { jsonrpc: "2.0", id: 7, method: "tools/list" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await res.json<{ id: number; result: { tools: { name: string }[] } }>();
    expect(body.id).toBe(7);
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(
      TOOLS.filter((t) => roleHas("analyst", t.permission))
        .map((t) => t.name)
        .sort(),
    );
    const stream = await call("GET", "/mcp", { key: keys.analyst, headers: { accept: "text/event-stream" } });
    expect(stream.status).toBe(405);
    const notJson = await call("POST", "/mcp", { key: keys.analyst, rawBody: "{", headers: { "content-type": "application/json" } });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get("content-type")).toBe("application/problem+json");
    // Valid JSON-RPC envelope, but not a message the SDK accepts: still problem+json, naming the body.
    const noMethod = await call("POST", "/mcp", { key: keys.analyst, body: { jsonrpc: "2.0", id: 8 } });
    expect(noMethod.status).toBe(400);
    expect(noMethod.headers.get("content-type")).toBe("application/problem+json");
    expect((await noMethod.json<{ errors: { field: string }[] }>()).errors[0]!.field).toBe("body");
  });
});
