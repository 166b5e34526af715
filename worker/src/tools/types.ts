/**
 * What an agent tool is: a name, a zod contract for its input and its output, the permission a
 * caller's role needs, and `run`, which calls the same domain functions as the API. The HTTP
 * routes (routes/tools/) and the MCP endpoint both serve the one registry (tools/registry.ts),
 * so a tool cannot behave differently depending on how an agent reaches it.
 */
import { z } from "zod";
import type { Actor } from "../audit";
import { actorHas, type Permission } from "../auth";
import { DomainError } from "../errors";
import { inputIssues } from "../fields";
import type { Services } from "../services";
import { topLevelNumberTexts } from "./money";

/**
 * `read`: looks and reports, writes nothing (an analyst may run it, an MCP client sees
 * `readOnlyHint`). `write`: may change Stripe or the mirror.
 */
export type ToolAccess = "read" | "write";

export interface TwinRoute {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
}

export interface Tool<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string;
  /** Written for the model that picks the tool: what it does, what it returns, when to use it. */
  description: string;
  input: I;
  output: O;
  permission: Permission;
  /**
   * The REST route that reads or does the same (`GET /v1/entitlements/{user_id}`): the tool
   * must be refused to exactly the roles the route refuses, so no key gains anything through a
   * tool (test/worker/tool-twins.test.ts). A tool with several forms names the route of each
   * (create_subscription: POST /v1/checkout and POST /v1/organizations). `none` says why a tool
   * has no such route.
   */
  twin: TwinRoute | readonly TwinRoute[] | { none: string };
  access: ToolAccess;
  /**
   * Top-level fields whose JSON number is read from its decimal text (money: `49.00`), where
   * the transport has the raw JSON (POST /v1/tools/...); see tools/money.ts.
   */
  exactDecimals?: readonly string[];
  /** The seed's own example inputs, valid against `input`: the manifest shows them, tests run them. */
  examples: z.input<I>[];
  /**
   * Checks the role, validates `input` (unknown: whatever JSON the agent sent) and runs.
   * Bad input throws `validation_failed` naming each field by its dotted path in the input.
   */
  run(services: Services, input: unknown, actor: Actor): Promise<z.output<O>>;
}

/** The dotted path of an issue in the tool's input (`data.object.id`); an unknown key names the key. */
export function inputErrors(error: z.ZodError): { field: string; message: string; code: string }[] {
  return inputIssues(error.issues).map((i) => ({ field: i.path.length > 0 ? i.path.join(".") : "input", message: i.message, code: i.code }));
}

export function parseInput<I extends z.ZodType>(name: string, schema: I, input: unknown): z.output<I> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = inputErrors(result.error);
  throw new DomainError("validation_failed", `Check the input of ${name}: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}.`, { errors });
}

/**
 * A tool's input from the JSON text an agent sent: `exactDecimals` fields that are numbers come
 * as their decimal text ("49.00"), everything else as JSON.parse gives it.
 */
export function inputFromJson(tool: Pick<Tool, "exactDecimals">, text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!tool.exactDecimals?.length || value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const texts = topLevelNumberTexts(text);
  const out = { ...(value as Record<string, unknown>) };
  for (const field of tool.exactDecimals) {
    const source = texts.get(field);
    if (typeof out[field] === "number" && source !== undefined) out[field] = source;
  }
  return out;
}

export function assertAllowed(tool: Pick<Tool, "name" | "permission">, actor: Actor): void {
  if (!actorHas(actor, tool.permission)) {
    throw new DomainError("forbidden", `A ${actor.role ?? "keyless"} key may not run ${tool.name}: it needs the \`${tool.permission}\` permission.`, {
      extensions: { required_permission: tool.permission, tool: tool.name },
    });
  }
}

/**
 * Builds a tool whose `run` checks the role and the input first, then calls `handler` with the
 * parsed input; the handler's result is checked against `output` too, so the contract an agent
 * reads in the manifest is the one it gets.
 */
export function defineTool<I extends z.ZodType, O extends z.ZodType>(
  spec: Omit<Tool<I, O>, "run"> & { handler: (services: Services, input: z.output<I>, actor: Actor) => Promise<z.input<O>> },
): Tool<I, O> {
  const { handler, ...rest } = spec;
  return {
    ...rest,
    async run(services, input, actor) {
      assertAllowed(rest, actor);
      const parsed = parseInput(rest.name, rest.input, input);
      return rest.output.parse(await handler(services, parsed, actor));
    },
  };
}
