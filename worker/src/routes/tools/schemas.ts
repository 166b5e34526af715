/**
 * What every tool route shares: its contract from the tool's own zod schemas, and the handler
 * that runs it. A tool is one route file each (`POST /v1/tools/<name>`), so the OpenAPI document,
 * the role matrix and the fuzz test see each tool with its own schema and permission.
 */
import type { Context } from "hono";
import { actorOf } from "../../http/actor";
import type { AppEnv } from "../../http/context";
import { conflictProblem, json, jsonBody, keyedErrors, notFoundProblem } from "../../http/schemas";
import { inputFromJson, type Tool } from "../../tools";

export function toolContract<T extends Tool>(tool: T) {
  return {
    summary: `Agent tool ${tool.name} (${tool.access === "read" ? "reads" : "writes"})`,
    description: tool.description,
    tags: ["agent tools"],
    request: { body: { ...jsonBody(tool.input), description: `Example: \`${JSON.stringify(tool.examples[0])}\`` } },
    responses: { 200: json(tool.output as T["output"], `The result of ${tool.name}`), ...keyedErrors, ...notFoundProblem, ...conflictProblem },
  };
}

/**
 * Runs the tool on the request's JSON. The route's validator has already checked the body
 * against the same schema (a problem naming `body.<field>`); the tool reads the text again so
 * that money fields keep the decimals the agent wrote.
 */
export function runTool(tool: Tool) {
  return async (c: Context<AppEnv>) => {
    const input = inputFromJson(tool, await c.req.text());
    const result = await tool.run(c.get("services"), input, actorOf(c));
    c.header("cache-control", "no-store");
    return c.json(result as object, 200);
  };
}
