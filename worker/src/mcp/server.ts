/**
 * The MCP server behind `/mcp`: the agent tools of the registry and two read-only resources, for
 * one request and one API key. Stateless: the route builds a server and a transport per HTTP
 * request (a Worker keeps nothing between requests), so nothing here outlives the request.
 *
 * Plain TypeScript like the domain: the route hands in the services, the caller, the tools and
 * how to turn an error into the problem the HTTP API would answer, so an agent reads the same
 * `type`, `detail` and failing fields over MCP as over `POST /v1/tools/{name}`.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { z } from "zod";
import type { Actor } from "../audit";
import { actorHas } from "../auth";
import { UserId } from "../fields";
import { invalidInput } from "../errors";
import type { Services } from "../services";
import { inputJsonSchema, type Tool as AgentTool } from "../tools";

/**
 * A refusal of the caller's role. JSON-RPC leaves -32000 to -32099 to the server; the SDK uses
 * -32000, -32001 and -32042, so this one is free and stable for clients to branch on.
 */
export const MCP_FORBIDDEN = -32003;
/** The code the MCP specification gives a resource that does not exist. */
export const MCP_RESOURCE_NOT_FOUND = -32002;

export const CATALOG_URI = "billing://catalog";
export const SUBSCRIPTION_TEMPLATE = "billing://subscriptions/{user_id}";
const SUBSCRIPTION_URI = /^billing:\/\/subscriptions\/([^/?#]+)$/;

/** A failure as the HTTP API would answer it (RFC 9457 members). */
export interface ProblemLike {
  status: number;
  code: string;
  detail: string;
  [member: string]: unknown;
}

export interface McpDeps {
  services: Services;
  /** The API key the request acts as, in this request. */
  actor: Actor;
  tools: readonly AgentTool[];
  /** `GET /v1/catalog`'s body. */
  catalog(): Promise<unknown>;
  /** `GET /v1/subscriptions/{user_id}`'s body (throws the domain's not_found). */
  subscription(userId: string): Promise<unknown>;
  /**
   * The problem for an error, with failing fields named as in a tool call's `arguments`
   * (`where` says which: a tool's arguments or a resource URI's parameters).
   */
  problem(error: unknown, where: "arguments" | "uri"): ProblemLike;
  version: string;
}

/** JSON Schema of a zod contract as a client sends it (input) or receives it (output). */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

/**
 * MCP wants objects at the top of both schemas: the input as GET /v1/tools lists it (a tool of
 * several forms as one object, see inputJsonSchema); a tool whose output is not one gets none declared.
 */
function describe(tool: AgentTool): Tool {
  const output = jsonSchema(tool.output, "output");
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: inputJsonSchema(tool.input) as Tool["inputSchema"],
    ...(output.type === "object" ? { outputSchema: output as Tool["outputSchema"] } : {}),
    annotations: { readOnlyHint: tool.access === "read", openWorldHint: false },
  };
}

export function createMcpServer(deps: McpDeps): Server {
  const { actor } = deps;
  const allowed = (t: AgentTool) => actorHas(actor, t.permission);
  const server = new Server(
    { name: "payment-integration-agent", version: deps.version },
    {
      capabilities: { tools: { listChanged: false }, resources: { listChanged: false, subscribe: false } },
      instructions:
        "Billing for Federal Job Advisor. Amounts are integer cents with a currency unless a tool says otherwise. Tool failures come back as RFC 9457 problems naming the failing argument.",
      // Ajv compiles validators with `new Function`, which workerd refuses.
      jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: deps.tools.filter(allowed).map(describe),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const tool = deps.tools.find((t) => t.name === request.params.name);
    if (!tool) {
      throw new McpError(ErrorCode.InvalidParams, `There is no tool ${JSON.stringify(request.params.name)}; tools/list names the tools this key may call.`);
    }
    if (!allowed(tool)) {
      throw new McpError(MCP_FORBIDDEN, `This ${actor.role} key may not call ${tool.name}: it needs the \`${tool.permission}\` permission.`, { required_permission: tool.permission });
    }
    // Argument errors and refusals of the domain are tool results, not protocol errors: the
    // model sees them and can correct its call (MCP's "tool execution error"). `run` validates.
    try {
      const output: unknown = await tool.run(deps.services, request.params.arguments ?? {}, actor);
      const structured = output !== null && typeof output === "object" && !Array.isArray(output) ? (output as Record<string, unknown>) : undefined;
      return { content: [{ type: "text", text: JSON.stringify(output) }], ...(structured ? { structuredContent: structured } : {}) };
    } catch (e) {
      // Stripe down or a setting missing is news for the model too ("retry in a minute");
      // only our own bug is a protocol error, with no more than the problem's generic words.
      const problem = deps.problem(e, "arguments");
      if (problem.code === "internal") throw internal(problem);
      return failed(problem);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: [{ uri: CATALOG_URI, name: "catalog", title: "Tiers, prices, trials, features and limits", mimeType: "application/json" }],
  }));

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: SUBSCRIPTION_TEMPLATE,
        name: "subscription",
        title: "A user's current subscription",
        description: "Plan, status, periods, discount, scheduled change and next invoice of one user (as GET /v1/subscriptions/{user_id}); needs billing:read.",
        mimeType: "application/json",
      },
    ],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const uri = request.params.uri;
    const body = async (): Promise<unknown> => {
      if (uri === CATALOG_URI) return deps.catalog();
      const match = SUBSCRIPTION_URI.exec(uri);
      if (!match) throw new McpError(MCP_RESOURCE_NOT_FOUND, `There is no resource ${uri}; resources/list and resources/templates/list name them.`, { uri });
      if (!actorHas(actor, "billing:read")) {
        throw new McpError(MCP_FORBIDDEN, `This ${actor.role} key may not read subscriptions: it needs the \`billing:read\` permission.`, { required_permission: "billing:read" });
      }
      return deps.subscription(userIdOf(match[1]!));
    };
    try {
      return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify(await body()) }] };
    } catch (e) {
      if (e instanceof McpError) throw e;
      const problem = deps.problem(e, "uri");
      if (problem.code === "internal") throw internal(problem);
      const code = problem.status === 404 ? MCP_RESOURCE_NOT_FOUND : problem.status === 403 ? MCP_FORBIDDEN : ErrorCode.InvalidParams;
      throw new McpError(code, problem.detail, problem);
    }
  });

  return server;
}

/**
 * The URI's user id, unescaped and held to the pattern GET /v1/subscriptions/{user_id} holds it
 * to: a broken escape or a malformed id is the caller's mistake (a 400 naming it), not ours.
 */
function userIdOf(segment: string): string {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    throw invalidInput(
      "user_id",
      "is not valid percent-encoding",
      `The user id in the URI is not valid percent-encoding (${JSON.stringify(segment.slice(0, 100))}); escape it as encodeURIComponent does.`,
    );
  }
  const checked = UserId.safeParse(id);
  if (!checked.success) throw invalidInput("user_id", checked.error.issues[0]!.message, `The user id in the URI is not one (${checked.error.issues[0]!.message}), percent-encoded.`);
  return id;
}

function failed(problem: ProblemLike): CallToolResult {
  return { isError: true, content: [{ type: "text", text: JSON.stringify(problem) }] };
}

/** Our own failure: the problem's generic words and request id only, never the error itself (logged by `problem`). */
function internal(problem: ProblemLike): McpError {
  return new McpError(ErrorCode.InternalError, problem.detail, problem);
}
