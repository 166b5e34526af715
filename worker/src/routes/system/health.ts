import { createRoute, z } from "@hono/zod-openapi";
import { checkDatabase } from "../../db/health";
import { guard, handle } from "../../http/route";
import { json } from "../../http/schemas";

const Health = z.object({ status: z.enum(["ok", "degraded"]), d1: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() }) });
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
  const d1 = await checkDatabase(c.get("services"));
  return d1.ok ? c.json({ status: "ok" as const, d1 }, 200) : c.json({ status: "degraded" as const, d1 }, 503);
});
