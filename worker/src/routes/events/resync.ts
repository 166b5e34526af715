import { createRoute, z } from "@hono/zod-openapi";
import { runResync } from "../../stripe-sync";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, instant, instantOrNull } from "../../instant";

const ResyncBody = z.strictObject({ restart: z.boolean().default(false), pages: z.int().min(1).max(20).default(3) }).openapi("ResyncRequest");
const Resync = z
  .object({
    phase: z.enum(["customers", "subscriptions", "invoices", "refunds", "disputes", "done"]),
    cursor: z.string().nullable(),
    started_at: Instant,
    finished_at: Instant.nullable(),
    counts: z.object({ customers: z.int(), subscriptions: z.int(), invoices: z.int(), refunds: z.int(), disputes: z.int() }),
  })
  .openapi("ResyncProgress");

const route = createRoute({
  method: "post",
  path: "/v1/admin/resync",
  ...guard("events:replay", { idempotent: true }),
  summary: "Rebuild the mirror from Stripe, one resumable chunk per call",
  tags: ["events"],
  request: { body: { required: false, content: { "application/json": { schema: ResyncBody } } } },
  responses: { 200: json(Resync, "Progress after this chunk; call again until phase is done"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json") ?? { restart: false, pages: 3 };
  const progress = await runResync(c.get("services"), { restart: body.restart, pages: body.pages });
  return c.json({ ...progress, started_at: instant(progress.started_at), finished_at: instantOrNull(progress.finished_at) }, 200);
});
