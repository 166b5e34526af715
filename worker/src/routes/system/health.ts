import { createRoute, z } from "@hono/zod-openapi";
import { checkDatabase } from "../../db/health";
import { dunningWarnings } from "../../dunning/health";
import { guard, handle } from "../../http/route";
import { json } from "../../http/schemas";

const Warning = z.object({ code: z.string(), detail: z.string(), cases: z.number().int().optional() });
const Health = z.object({ status: z.enum(["ok", "degraded"]), d1: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() }), warnings: z.array(Warning) });
export type HealthResponse = z.infer<typeof Health>;

const route = createRoute({
  method: "get",
  path: "/health",
  ...guard("public"),
  summary: "Liveness and D1 check",
  tags: ["system"],
  responses: { 200: json(Health, "Healthy"), 503: json(Health, "D1 is not reachable") },
});

export default handle(route, async (c) => {
  const s = c.get("services");
  const d1 = await checkDatabase(s);
  if (!d1.ok) return c.json({ status: "degraded" as const, d1, warnings: [] }, 503);
  // A misconfiguration is a warning, not an outage: the worker still serves.
  const warnings = await dunningWarnings(s).catch((e: unknown) => [{ code: "dunning_unchecked", detail: e instanceof Error ? e.message : String(e) }]);
  return c.json({ status: "ok" as const, d1, warnings }, 200);
});
