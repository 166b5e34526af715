import { createRoute, z } from "@hono/zod-openapi";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import Stripe from "stripe";
import { catalogPriceIds, subscriptionView } from "../../subscriptions";
import { presentSubscription } from "../../presenters";
import { DomainError } from "../../errors";
import { actorOf } from "../../http/actor";
import { ApiError } from "../../http/errors";
import { limitKeyCalls } from "../../http/middleware";
import { guard, handle } from "../../http/route";
import { fromStripe } from "../../http/stripe-errors";
import { json, jsonBody, keyedErrors } from "../../http/schemas";
import { describeError } from "../../log";
import { createMcpServer, type ProblemLike } from "../../mcp";
import { TOOLS } from "../../tools";
import { catalogBody } from "../system/catalog";

/** The JSON-RPC envelope only: the SDK checks each method's params against the MCP schema. */
const JsonRpcMessage = z
  .looseObject({
    jsonrpc: z.literal("2.0"),
    id: z.union([z.string(), z.int()]).optional(),
    method: z.string().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("JsonRpcMessage", { description: "A JSON-RPC 2.0 request, notification or response of the Model Context Protocol" });

const route = createRoute({
  method: "post",
  path: "/mcp",
  // The manifest's permission: any role may connect; each tool call and resource read then needs its own.
  ...guard("tools:read"),
  summary: "Model Context Protocol (Streamable HTTP, stateless): the agent tools and the catalog and subscription resources",
  description:
    "An MCP server for LLM agents: `tools/list` shows the tools the key's role may call (an analyst sees the read-only ones), `tools/call` runs one through the same code as `POST /v1/tools/{name}`, and `resources/read` reads `billing://catalog` or `billing://subscriptions/{user_id}`. Stateless: no session id, answers are JSON, and GET (a server-to-client stream) is 405. A call of a tool the role may not use is the JSON-RPC error -32003.",
  tags: ["agent tools"],
  request: { body: jsonBody(z.union([JsonRpcMessage, z.array(JsonRpcMessage).min(1).max(20)])) },
  responses: {
    200: json(z.union([JsonRpcMessage, z.array(JsonRpcMessage)]), "The JSON-RPC response(s)"),
    202: { description: "Only notifications or responses were sent: nothing to answer" },
    ...keyedErrors,
  },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  // Each message of a batch is a call of its own against the key's limit, as 20 requests would be.
  if (Array.isArray(body)) await limitKeyCalls(c, body.length - 1);
  const services = c.get("services");
  const requestId = c.get("requestId");
  const problem = (e: unknown, where: "arguments" | "uri"): ProblemLike => {
    const api = toApiError(e, where);
    if (api.status >= 500) services.log.log("error", "mcp request failed", { request_id: requestId, code: api.code, error: describeError(api.cause ?? api) });
    return api.toProblem("/mcp", requestId);
  };
  const server = createMcpServer({
    services,
    actor: actorOf(c),
    tools: TOOLS,
    catalog: async () => catalogBody(await catalogPriceIds(services)),
    subscription: async (userId) => presentSubscription(await subscriptionView(services, userId)),
    problem,
    version: "0.1.0",
  });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  // Every answer is JSON (never a stream), so a client that accepts JSON is served whatever else
  // its Accept lists; the transport itself insists on both types, as the specification asks of clients.
  const headers = new Headers(c.req.raw.headers);
  headers.set("accept", "application/json, text/event-stream");
  const request = new Request(c.req.url, { method: "POST", headers });
  let res: Response;
  try {
    res = await transport.handleRequest(request, { parsedBody: body });
  } finally {
    await server.close();
  }
  if (res.status < 400) return res as never;
  // The transport refuses what the envelope schema let through (an id with neither method nor
  // result, an unsupported Mcp-Protocol-Version) with a bare JSON-RPC error: the API's failures
  // are problem+json, this one's too.
  const rpc = await res.json<{ error?: { message?: string } }>().catch(() => ({}) as { error?: { message?: string } });
  const detail = `The MCP message was refused: ${rpc.error?.message ?? `HTTP ${res.status}`}. Send a JSON-RPC 2.0 request of the Model Context Protocol.`;
  throw new ApiError(res.status >= 500 ? "internal" : res.status === 415 ? "unsupported_media_type" : "validation_failed", detail, {
    errors: [{ field: "body", message: rpc.error?.message ?? "not a valid MCP message" }],
  });
});

function toApiError(e: unknown, where: "arguments" | "uri"): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof DomainError) {
    const errors = e.details.errors?.map((f) => (e.code === "config_invalid" ? f : { ...f, field: `${where}.${f.field}` }));
    return new ApiError(e.code, e.message, { ...(errors ? { errors } : {}), ...(e.details.extensions ? { extensions: e.details.extensions } : {}), cause: e });
  }
  if (e instanceof Stripe.errors.StripeError) return fromStripe(e);
  return new ApiError("internal", "Something went wrong on our side; the request id identifies it in our logs.", { cause: e });
}
