import { createRoute, z } from "@hono/zod-openapi";
import { subscriptionView } from "../../billing/subscription-view";
import { SUBSCRIPTION_STATUSES } from "../../db/schema";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, notFoundProblem } from "../../http/schemas";
import { UserId } from "../entitlements/schemas";

const UnixSeconds = z.int().describe("Unix time in seconds");
const BillingCycle = z.enum(["monthly", "annual"]);

const SubscriptionView = z
  .object({
    user_id: z.string(),
    subscription_id: z.string(),
    tier: z.string().nullable(),
    billing_cycle: BillingCycle.nullable(),
    status: z.enum(SUBSCRIPTION_STATUSES).describe("Stripe's subscription status"),
    trial_end: UnixSeconds.nullable(),
    current_period_start: UnixSeconds.nullable(),
    current_period_end: UnixSeconds.nullable(),
    cancel_at_period_end: z.boolean(),
    cancel_at: UnixSeconds.nullable(),
    paused: z.boolean().describe("Payment collection is paused"),
    pending_change: z.object({ tier: z.string().nullable(), billing_cycle: BillingCycle.nullable(), effective_at: UnixSeconds }).nullable().describe("The next phase of a subscription schedule, when its price differs"),
    discount: z.object({ coupon_id: z.string(), percent_off: z.number().nullable(), amount_off: z.int().nullable(), ends_at: UnixSeconds.nullable() }).nullable(),
    next_invoice: z
      .object({ amount_due: z.int().describe("Integer cents"), tax: z.int().describe("Integer cents"), currency: z.string(), date: UnixSeconds.nullable() })
      .nullable()
      .describe("Stripe's preview of the next invoice; null for a canceled subscription"),
  })
  .openapi("SubscriptionView");

const route = createRoute({
  method: "get",
  path: "/v1/subscriptions/{user_id}",
  ...guard("billing:read"),
  summary: "A user's current subscription: plan, periods, discount, scheduled change, next invoice",
  tags: ["billing"],
  request: { params: z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) }) },
  responses: { 200: json(SubscriptionView, "The user's current subscription (times in unix seconds)"), ...keyedErrors, ...notFoundProblem },
});

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  return c.json(await subscriptionView(c.get("services"), user_id), 200);
});
