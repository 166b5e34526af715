import { createRoute, z } from "@hono/zod-openapi";
import { DUNNING_STAGES, dunningReport } from "../../dunning";
import { pageLimit } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, keyedErrors } from "../../http/schemas";
import { Instant, instant, instantOrNull } from "../../instant";

const OpenCase = z
  .object({
    id: z.string(),
    invoice_id: z.string(),
    subscription_id: z.string(),
    customer_id: z.string(),
    user_id: z.string().nullable(),
    stage: z.string().nullable().describe("The last stage that happened; null before the first"),
    next_action: z
      .string()
      .nullable()
      .describe(`The next stage (${DUNNING_STAGES.join(", ")}) or the worker's next retry (retry_<n>), whichever comes first`),
    next_action_at: Instant.nullable(),
    retries: z.int().describe("Retry slots of the policy's schedule used so far (made or passed over)"),
    next_retry_at: Instant.nullable().describe("The worker's next retry; null when it will not retry (a hard decline, Stripe retries, none left)"),
    stripe_next_attempt_at: Instant.nullable().describe("Stripe's own next automatic attempt (the invoice's next_payment_attempt)"),
    anchor_at: Instant.describe("The invoice's first failed payment (Stripe's time)"),
    amount: z.int().describe("Integer minor units"),
    currency: z.string(),
    decline_code: z.string().nullable().describe("The first failure's decline code"),
    last_decline_code: z.string().nullable().describe("The latest failure's decline code"),
  })
  .openapi("DunningCase");

const Rate = z.object({ cases: z.int(), recovered: z.int(), rate: z.number().describe("recovered ÷ cases, 0–1") });

const Query = z.strictObject({ limit: pageLimit(100, 50).describe("Open cases to list, soonest next action first") });

const route = createRoute({
  method: "get",
  path: "/v1/dunning",
  ...guard("dunning:read"),
  summary: "Open dunning cases with their stage and next action, and recovery rates by stage reached and by decline code",
  tags: ["dunning"],
  request: { query: Query },
  responses: {
    200: json(
      z.object({
        open: z.array(OpenCase),
        recovery_by_stage: z.array(Rate.extend({ stage: z.string().describe("The stage reached (`none`: before the first)") })),
        recovery_by_decline_code: z.array(Rate.extend({ decline_code: z.string().describe("`none`: no decline code") })),
      }),
      "Dunning now",
    ),
    ...keyedErrors,
  },
});

export default handle(route, async (c) => {
  const s = c.get("services");
  const r = await dunningReport(s.db, c.req.valid("query").limit, s.dunning);
  return c.json(
    {
      open: r.open.map((o) => ({
        id: o.caseId,
        invoice_id: o.invoiceId,
        subscription_id: o.subscriptionId,
        customer_id: o.customerId,
        user_id: o.userId,
        stage: o.stage,
        next_action: o.nextAction,
        next_action_at: instantOrNull(o.nextActionAt),
        anchor_at: instant(o.anchorAt),
        amount: o.amount,
        currency: o.currency,
        decline_code: o.declineCode,
        last_decline_code: o.lastDeclineCode,
        retries: o.retries,
        next_retry_at: instantOrNull(o.nextRetryAt),
        stripe_next_attempt_at: instantOrNull(o.stripeNextAttemptAt),
      })),
      recovery_by_stage: r.byStage,
      recovery_by_decline_code: r.byDeclineCode.map((d) => ({ decline_code: d.declineCode, cases: d.cases, recovered: d.recovered, rate: d.rate })),
    },
    200,
  );
});
