import { createRoute, z } from "@hono/zod-openapi";
import { startCheckout } from "../../subscriptions";
import { actorOf } from "../../http/actor";
import { guard, handle } from "../../http/route";
import { conflictProblem, json, jsonBody, keyedErrors } from "../../http/schemas";
import { BillingCycle, Email, PromotionCode, ReturnUrl, TestClockId, TierKey, UserId } from "../../fields";

const CheckoutBody = z
  .strictObject({
    user_id: UserId,
    email: Email,
    tier: TierKey,
    billing_cycle: BillingCycle.optional().describe("`monthly` (default), `annual`, or prepaid `two_year` or `three_year`"),
    promotion_code: PromotionCode.optional(),
    success_url: ReturnUrl.optional(),
    cancel_url: ReturnUrl.optional(),
    test_clock: TestClockId.optional(),
  })
  .openapi("CheckoutRequest");

const CheckoutSession = z.object({ session_id: z.string(), url: z.url(), trial_days: z.int().nonnegative() }).openapi("CheckoutSession");

const route = createRoute({
  method: "post",
  path: "/v1/checkout",
  ...guard("billing:write", { idempotent: true }),
  summary: "Start a Stripe Checkout session for a tier (one customer per user, one trial per user)",
  tags: ["billing"],
  request: { body: jsonBody(CheckoutBody) },
  responses: { 201: json(CheckoutSession, "Created; send the user to `url`"), ...keyedErrors, ...conflictProblem },
});

export default handle(route, async (c) => {
  const body = c.req.valid("json");
  const result = await startCheckout(c.get("services"), actorOf(c), {
    userId: body.user_id,
    email: body.email,
    tier: body.tier,
    billingCycle: body.billing_cycle,
    promotionCode: body.promotion_code,
    successUrl: body.success_url,
    cancelUrl: body.cancel_url,
    testClock: body.test_clock,
  });
  c.header("cache-control", "no-store");
  return c.json({ session_id: result.sessionId, url: result.url, trial_days: result.trialDays }, 201);
});
