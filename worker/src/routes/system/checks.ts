import { createRoute, z } from "@hono/zod-openapi";
import { CRONS } from "../../cron";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant } from "../../instant";
import { deploymentChecks } from "../../monitoring";

const Status = z.enum(["pass", "warn", "fail"]);
const Check = z.object({
  id: z.string().openapi({
    description:
      "`config:<concern>`, `migrations`, `cron:<name>`, `stripe_events`, `webhook_endpoint`, `webhook_events`, `webhook_api_version`, `catalog_prices`, `signing_keys`, `audit_chain`, `audit_checkpoints`, `email_transport`, `stripe_mode`, `dunning_retries`",
  }),
  title: z.string(),
  status: Status,
  detail: z.string().describe("What was found; never a value of a secret or var"),
  fix: z.string().nullable().describe("What to do about a failure or warning, the exact command where there is one"),
});

const Checks = z
  .object({
    generated_at: Instant,
    environment: z.string(),
    status: Status.describe("`fail` when any check fails, `warn` when any warns"),
    checks: z.array(Check),
    variables: z
      .array(
        z.object({
          name: z.string(),
          kind: z.enum(["secret", "var", "binding"]),
          concerns: z.array(z.string()),
          required: z.boolean(),
          status: z.enum(["ok", "unset", "missing", "invalid"]).describe("`unset`: absent and optional (its default applies); `missing`: absent and needed"),
          problem: z.string().nullable(),
        }),
      )
      .describe("Every variable and binding the worker's configuration reads (worker/src/env.ts), by name and state only"),
    migrations: z
      .object({ table: z.string(), found: z.boolean(), applied: z.array(z.object({ name: z.string(), applied_at: Instant.nullable() })) })
      .describe("What `wrangler d1 migrations apply` recorded"),
    crons: z.array(
      z.object({
        cron: z.string(),
        schedule: z.string(),
        max_gap_s: z.int(),
        last_started_at: Instant.nullable(),
        last_finished_at: Instant.nullable(),
        last_ok: z.boolean().nullable(),
        overdue: z.boolean(),
      }),
    ),
    stripe_events: z.object({ last_received_at: Instant.nullable(), last_created_at: Instant.nullable() }).describe("The newest event a webhook delivered"),
    webhook_endpoint: z
      .object({
        url: z.string(),
        found: z.boolean(),
        id: z.string().nullable(),
        status: z.string().nullable(),
        api_version: z.string().nullable(),
        pinned_api_version: z.string(),
        missing_events: z.array(z.string()),
        other_urls: z.array(z.string()),
      })
      .nullable()
      .describe("The Stripe endpoint for this worker's `<origin>/webhooks/stripe`; null when Stripe could not be asked"),
    prices: z.array(z.object({ lookup_key: z.string(), price_id: z.string().nullable(), active: z.boolean().nullable(), matches_catalog: z.boolean().nullable() })),
    signing_keys: z.object({ current_kid: z.string(), public_kids: z.array(z.string()) }).nullable(),
  })
  .openapi("DeploymentChecks");
export type DeploymentChecksResponse = z.infer<typeof Checks>;

const route = createRoute({
  method: "get",
  path: "/v1/system/checks",
  ...guard("system:read"),
  summary: "Whether this deployment is set up right: settings, migrations, crons, the Stripe webhook endpoint and prices, signing keys, audit, email, retries (what npm run doctor reads)",
  description:
    "Every check is pass, warn or fail with what to do. Settings are reported by name and state only, never their values. Asks Stripe for its webhook endpoints and the catalog's prices, and walks the audit chain: not for polling.",
  tags: ["system"],
  request: { query: z.strictObject({}) },
  responses: { 200: json(Checks, "The checks; `status` is fail when any check fails"), ...keyedErrors },
});

export default handle(route, async (c) => {
  const report = await deploymentChecks(c.get("services"), { env: c.env, origin: new URL(c.req.url).origin, schedules: CRONS });
  c.header("cache-control", "no-store");
  return c.json(report, 200);
});
