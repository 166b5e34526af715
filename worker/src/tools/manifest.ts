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
    input_schema: z.toJSONSchema(t.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    output_schema: z.toJSONSchema(t.output, { io: "output", unrepresentable: "any" }) as Record<string, unknown>,
    examples: t.examples,
  }));
  return cached;
}
