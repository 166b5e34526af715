/**
 * create_subscription's organization form (issue 25): `{ organization: {...} }` buys seats for a
 * term as POST /v1/organizations does, over POST /v1/tools/create_subscription and over MCP: the
 * same organization view, the same Idempotency-Key replay, the same refusals (an org_id taken, a
 * key without billing:write), and bad input named by its field with nothing made in Stripe or D1.
 */
import { SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { organizations } from "../../worker/src/db/schema";
import { MCP_FORBIDDEN } from "../../worker/src/mcp/server";
import { findTool } from "../../worker/src/tools/registry";
import { BASE, call, count, freshIp, makeKey } from "./helpers";
import { expectProblem } from "./lifecycle-helpers";
import { agencyBody } from "./organization-helpers";
import { db, stripe } from "./stripe-helpers";

const keys = { admin: "", service: "", analyst: "" };
beforeAll(async () => {
  for (const role of ["admin", "service", "analyst"] as const) keys[role] = (await makeKey(role, { name: `tools-org-${role}` })).key;
});

let n = 0;
const newOrg = () => `org_tool_${Date.now().toString(36)}_${++n}`;

const viaTool = (input: unknown, key = keys.service, idempotencyKey?: string) =>
  call("POST", "/v1/tools/create_subscription", { key, body: input, ...(idempotencyKey ? { headers: { "idempotency-key": idempotencyKey } } : {}) });

const customersOf = async (orgId: string) => (await stripe().customers.search({ query: `metadata['org_id']:'${orgId}'` })).data;

async function mcp(key: string): Promise<Client> {
  const ip = freshIp();
  const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
    fetch: (url, init) => SELF.fetch(url, init),
    requestInit: { headers: { "cf-connecting-ip": ip, authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: "tools-organization-test", version: "1.0.0" }, { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
  await client.connect(transport);
  return client;
}

interface Answer {
  outcome: string;
  organization: { org_id: string; seats: number; term: { months: number }; po_number: string | null; invoices: { id: string; status: string; amount_due: number }[] };
}

describe("create_subscription for an organization, over HTTP", () => {
  it("buys the seats as POST /v1/organizations does: outcome organization_created with the organization's view, its invoice open and unpaid in Stripe", async () => {
    const orgId = newOrg();
    const res = await viaTool({ organization: agencyBody(orgId, { seats: 2 }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const out = await res.json<Answer>();
    expect(findTool("create_subscription")!.output.safeParse(out).success).toBe(true);
    expect(out).toMatchObject({ outcome: "organization_created", organization: { org_id: orgId, seats: 2, term: { months: 12 }, po_number: "PO-2026-0042" } });
    // The answer is the organization's own view, by the same presenter as the REST routes.
    expect(await (await call("GET", `/v1/organizations/${orgId}`, { key: keys.analyst })).json()).toEqual(out.organization);
    const [inv] = out.organization.invoices;
    expect([inv!.status, inv!.amount_due]).toEqual(["open", 78_000]);
    const stripeInv = await stripe().invoices.retrieve(inv!.id);
    expect([stripeInv.collection_method, stripeInv.attempted, stripeInv.custom_fields?.[0]]).toEqual(["send_invoice", false, { name: "PO number", value: "PO-2026-0042" }]);
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    expect(row.status).toBe("active");
    expect((await customersOf(orgId)).map((c) => c.id)).toEqual([row.customerId]);
  });

  it("a retry with the same Idempotency-Key answers the same organization, replayed, and makes no second customer; a new request for the org_id is a 409 as the REST route's", async () => {
    const orgId = newOrg();
    const input = { organization: agencyBody(orgId, { seats: 1, po_number: undefined }) };
    const first = await viaTool(input, keys.service, `tool-${orgId}`);
    const again = await viaTool(input, keys.service, `tool-${orgId}`);
    expect([first.status, again.status, again.headers.get("idempotent-replayed")]).toEqual([200, 200, "true"]);
    expect(await again.json()).toEqual(await first.json());
    expect(await customersOf(orgId)).toHaveLength(1);

    const taken = await expectProblem(await viaTool(input), 409, "conflict", "body.organization.org_id");
    const rest = await expectProblem(await call("POST", "/v1/organizations", { key: keys.service, body: input.organization }), 409, "conflict", "body.org_id");
    expect(taken.detail).toBe(rest.detail);
    expect(await customersOf(orgId)).toHaveLength(1);
  });

  it("is refused to an analyst key exactly as POST /v1/organizations is, before anything is made", async () => {
    const orgId = newOrg();
    const tool = await call("POST", "/v1/tools/create_subscription", { key: keys.analyst, body: { organization: agencyBody(orgId) } });
    const rest = await call("POST", "/v1/organizations", { key: keys.analyst, body: agencyBody(orgId) });
    expect([tool.status, rest.status]).toEqual([403, 403]);
    const [fromTool, fromRest] = [await tool.json<Record<string, unknown>>(), await rest.json<Record<string, unknown>>()];
    expect([fromTool.type, fromTool.code, fromTool.required_permission]).toEqual([fromRest.type, fromRest.code, "billing:write"]);
    expect(await customersOf(orgId)).toEqual([]);
  });

  it.each([
    ["an unknown term", { term_months: 18 }, "body.organization.term_months"],
    ["no seats", { seats: 0 }, "body.organization.seats"],
    ["more seats than the policy allows", { seats: 101 }, "body.organization.seats"],
    ["a PO number over 30 characters", { po_number: "P".repeat(31) }, "body.organization.po_number"],
    ["a US address without a ZIP code", { address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "DC", country: "US" } }, "body.organization.address.postal_code"],
    ["a malformed EIN", { tax_id: "123456789" }, "body.organization.tax_id"],
    ["a missing billing email", { billing_email: undefined }, "body.organization.billing_email"],
    ["a field of the user's form inside the organization", { tier: "mobile" }, "body.organization.tier"],
    ["a test clock Stripe does not have", { test_clock: "clock_doesnotexist" }, "body.organization.test_clock"],
  ])("%s is a 400 naming the field in the organization, the one POST /v1/organizations names, and nothing is made in Stripe or D1", async (_what, change, field) => {
    const orgId = newOrg();
    const rows = await count("organizations");
    const fromTool = await expectProblem(await viaTool({ organization: agencyBody(orgId, change) }), 400, "validation_failed", field);
    const fromRest = await expectProblem(await call("POST", "/v1/organizations", { key: keys.service, body: agencyBody(orgId, change) }), 400, "validation_failed");
    expect(fromTool.errors!.map((e) => e.field)).toEqual(fromRest.errors!.map((e) => e.field.replace(/^body\./, "body.organization.")));
    expect(await count("organizations")).toBe(rows);
    expect(await customersOf(orgId)).toEqual([]);
  });

  it("refuses an input mixing the two forms, or with neither, naming the body; the user's form alone is unchanged", async () => {
    const orgId = newOrg();
    const both = await expectProblem(await viaTool({ user_id: "user_both", tier: "mobile", organization: agencyBody(orgId) }), 400, "validation_failed", "body");
    expect(both.detail).toMatch(/user's form.*organization's/);
    await expectProblem(await viaTool({}), 400, "validation_failed", "body");
    await expectProblem(await viaTool([]), 400, "validation_failed", "body");
    // A user's form with a typo is still named by the user's field, not by the organization form's.
    await expectProblem(await viaTool({ user_id: "user_typo", tier: "mobile", billing_cylce: "annual" }), 400, "validation_failed", "body.billing_cylce");
    expect(await customersOf(orgId)).toEqual([]);
  });
});

describe("create_subscription for an organization, over MCP", () => {
  it("buys the seats and answers the organization's view as structured content", async () => {
    const orgId = newOrg();
    const client = await mcp(keys.service);
    const result = (await client.callTool({ name: "create_subscription", arguments: { organization: agencyBody(orgId, { seats: 3, term_months: 24 }) } })) as CallToolResult;
    await client.close();
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    const out = result.structuredContent as unknown as Answer;
    expect(findTool("create_subscription")!.output.safeParse(out).success).toBe(true);
    expect(out).toMatchObject({ outcome: "organization_created", organization: { org_id: orgId, seats: 3, term: { months: 24 } } });
    expect(await (await call("GET", `/v1/organizations/${orgId}`, { key: keys.analyst })).json()).toEqual(out.organization);
    expect(await customersOf(orgId)).toHaveLength(1);
  });

  it("names a bad argument by its path in the organization, and makes nothing", async () => {
    const orgId = newOrg();
    const rows = await count("organizations");
    const client = await mcp(keys.service);
    const result = (await client.callTool({ name: "create_subscription", arguments: { organization: agencyBody(orgId, { seats: 0 }) } })) as CallToolResult;
    await client.close();
    expect(result.isError).toBe(true);
    const problem = JSON.parse((result.content[0] as { text: string }).text) as { code: string; errors: { field: string }[] };
    expect([problem.code, problem.errors.map((e) => e.field)]).toEqual(["validation_failed", ["arguments.organization.seats"]]);
    expect(await count("organizations")).toBe(rows);
    expect(await customersOf(orgId)).toEqual([]);
  });

  it("refuses an analyst's call with the MCP forbidden error and makes nothing", async () => {
    const orgId = newOrg();
    const client = await mcp(keys.analyst);
    const refused = await client.callTool({ name: "create_subscription", arguments: { organization: agencyBody(orgId) } }).catch((e: unknown) => e);
    await client.close();
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).code).toBe(MCP_FORBIDDEN);
    expect(await customersOf(orgId)).toEqual([]);
  });

  it("lists one object schema whose if/then/else tells the forms apart, with no union at the top a model API would refuse", async () => {
    const client = await mcp(keys.service);
    const listed = (await client.listTools()).tools.find((t) => t.name === "create_subscription")!;
    await client.close();
    const schema = listed.inputSchema as Record<string, any>;
    expect(schema).not.toHaveProperty("anyOf");
    expect(schema).not.toHaveProperty("oneOf");
    expect(schema).toMatchObject({ type: "object", if: { required: ["organization"] }, then: { required: ["organization"] }, else: { required: ["user_id", "tier"] } });
    expect(schema.properties.organization.required).toEqual(["org_id", "name", "billing_email", "address", "seats", "term_months"]);
  });
});
