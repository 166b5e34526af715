import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { json } from "../http/schemas";

const Health = z.object({ status: z.enum(["ok", "degraded"]), d1: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() }) });
export type HealthResponse = z.infer<typeof Health>;

const route = defineRoute("health", { responses: { 200: json(Health, "Healthy"), 503: json(Health, "D1 is not reachable") } });

export const health = newRouter().openapi(route, async (c) => {
  const started = Date.now();
  try {
    await getDb(c.env.DB).run(sql`select 1`);
    return c.json({ status: "ok" as const, d1: { ok: true, latency_ms: Date.now() - started } }, 200);
  } catch (e) {
    return c.json({ status: "degraded" as const, d1: { ok: false, latency_ms: Date.now() - started, error: "D1 query failed" } }, 503);
  }
});
