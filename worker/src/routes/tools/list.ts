import { createRoute, z } from "@hono/zod-openapi";
import { actorHas } from "../../auth";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { toolManifest } from "../../tools";

const JsonSchema = z.record(z.string(), z.unknown()).describe("A JSON Schema (draft 2020-12), generated from the tool's zod schema");

const Manifest = z
  .object({
    tools: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        access: z.enum(["read", "write"]).describe("read: changes nothing; write: may change Stripe or the mirror"),
        permission: z.string(),
        allowed: z.boolean().describe("Whether the calling key's role may run it"),
        method: z.literal("POST"),
        path: z.string(),
        input_schema: JsonSchema,
        output_schema: JsonSchema,
        examples: z.array(z.unknown()).describe("Inputs the tool accepts, as the seed wrote them"),
      }),
    ),
  })
  .openapi("ToolManifest");

const route = createRoute({
  method: "get",
  path: "/v1/tools",
  ...guard("tools:read"),
  summary: "The agent tools: each one's input and output JSON Schema, permission, and whether this key may run it",
  tags: ["agent tools"],
  responses: { 200: json(Manifest, "The manifest"), ...keyedErrors },
});

export default handle(route, (c) => {
  const actor = actorOf(c);
  return c.json({ tools: toolManifest().map((t) => ({ ...t, allowed: actorHas(actor, t.permission) })) }, 200);
});
