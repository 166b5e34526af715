import { createRoute, z } from "@hono/zod-openapi";
import { guard, handle } from "../../http/route";
import { json } from "../../http/schemas";
import { healthReport } from "../../monitoring";
import { Instant } from "../../instant";

const Warning = z.object({ code: z.string(), detail: z.string(), cases: z.number().int().optional() });
const Count = z.number().int().min(0);
const Health = z
  .object({
    status: z.enum(["ok", "degraded", "down"]).openapi({ description: "`down` (503) only when D1 does not answer; `degraded` when a check in `failing` fails" }),
    failing: z.array(z.string()).openapi({ description: "`d1`, `stripe`, `webhook_lag`, `events_parked`, `cron:<name>`" }),
    d1: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() }),
    stripe: z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.enum(["timeout", "unreachable", "rejected", "not_configured"]).optional() }).optional(),
    webhooks: z
      .object({ pending: Count, oldest_pending_age_s: Count.nullable(), parked: Count, lag_ok: z.boolean() })
      .optional()
      .openapi({ description: "Stripe events not yet processed, the age of the oldest, and events parked after their retries" }),
    dunning: z.object({ open: Count, overdue: Count }).optional(),
    email: z.object({ pending: Count, overdue: Count, failed: Count }).optional(),
    crons: z.array(z.object({ cron: z.string(), last_started_at: Instant.nullable(), last_finished_at: Instant.nullable(), last_ok: z.boolean().nullable(), overdue: z.boolean() })).optional(),
    warnings: z.array(Warning),
  })
  .openapi("Health");
export type HealthResponse = z.infer<typeof Health>;

const route = createRoute({
  method: "get",
  path: "/health",
  ...guard("public"),
  summary: "D1, Stripe, webhook lag, parked events, backlogs and the last run of each cron",
  description: "Public: states, counts, ages and times only (no ids, amounts or error text). 200 when D1 answers, `degraded` when another check fails; 503 when D1 does not.",
  tags: ["system"],
  responses: { 200: json(Health, "D1 answers (ok or degraded)"), 503: json(Health, "D1 is not reachable") },
});

export default handle(route, async (c) => {
  const report = await healthReport(c.get("services"));
  c.header("cache-control", "no-store");
  return report.status === "down" ? c.json(report, 503) : c.json(report, 200);
});
