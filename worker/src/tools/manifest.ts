/**
 * The tools as JSON Schemas (zod 4's own `z.toJSONSchema`), for GET /v1/tools and any client
 * that wants the contract without zod: the input as an agent writes it, the output as it comes.
 */
import { z } from "zod";
import type { Permission } from "../auth";
import { TOOLS } from "./registry";
import type { ToolAccess } from "./types";

export interface ToolManifestEntry {
  name: string;
  description: string;
  access: ToolAccess;
  permission: Permission;
  method: "POST";
  path: string;
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown>;
  examples: unknown[];
}

let cached: ToolManifestEntry[] | undefined;

/** Built once per isolate: the schemas do not change while it runs. */
export function toolManifest(): ToolManifestEntry[] {
  cached ??= TOOLS.map((t) => ({
    name: t.name,
    description: t.description,
    access: t.access,
    permission: t.permission,
    method: "POST" as const,
    path: `/v1/tools/${t.name}`,
    input_schema: inputJsonSchema(t.input),
    output_schema: z.toJSONSchema(t.output, { io: "output", unrepresentable: "any" }) as Record<string, unknown>,
    examples: t.examples,
  }));
  return cached;
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown };

/**
 * A tool's input as a JSON Schema an agent's model takes (GET /v1/tools and MCP's tools/list):
 * an object at the top. Model APIs refuse a tool whose input schema has `anyOf`, `oneOf` or
 * `allOf` at the top (Anthropic's Messages API: "input_schema does not support oneOf, allOf, or
 * anyOf at the top level", and every request listing the tool fails), so a union of object forms
 * (create_subscription's user and organization) is written as one object with every form's
 * properties, and `if`/`then`/`else` choosing the form by a key only it requires: the same
 * inputs are valid as with the union. The first form is the one that needs no such key (the
 * `else`). The routes' OpenAPI bodies keep the union as zod writes it.
 */
export function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...js } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const forms = (js.anyOf ?? js.oneOf) as JsonSchema[] | undefined;
  if (!forms || forms.length < 2 || !forms.every((f) => f.type === "object" && f.properties)) return { ...js, type: "object" };
  const { anyOf: _a, oneOf: _o, ...rest } = js;
  const keysOf = (f: JsonSchema) => Object.keys(f.properties!);
  // A key that only form i has, and that it requires: its presence says which form the input is.
  const markers = forms.map((f, i) => (f.required ?? []).find((k) => forms.every((g, j) => j === i || !keysOf(g).includes(k))));
  if (markers.slice(1).some((m) => m === undefined)) return { ...js, type: "object" };
  const rule = (f: JsonSchema) => ({ required: f.required ?? [], ...(f.additionalProperties === false ? { propertyNames: { enum: keysOf(f) } } : {}) });
  let chosen: Record<string, unknown> = rule(forms[0]!);
  for (let i = forms.length - 1; i >= 1; i--) chosen = { if: { required: [markers[i]] }, then: rule(forms[i]!), else: chosen };
  return {
    ...rest,
    type: "object",
    properties: Object.assign({}, ...forms.map((f) => f.properties)),
    ...(forms.every((f) => f.additionalProperties === false) ? { additionalProperties: false } : {}),
    ...chosen,
  };
}
