import { createRoute, z } from "@hono/zod-openapi";
import { ENTITLEMENT_STATUSES } from "../../db/schema";
import { currentEntitlement } from "../../entitlements";
import { guard, handle } from "../../http/route";
import { json, keyedErrors, Timestamp } from "../../http/schemas";
import { UserId } from "../../fields";
import { Offer } from "./schemas";

const Entitlement = z
  .object({
    user_id: z.string(),
    tier: z.string().nullable(),
    status: z.enum(ENTITLEMENT_STATUSES),
    features: z.array(z.string()),
    limits: z.record(z.string(), z.int().nullable()),
    trial_end: Timestamp.nullable(),
    grace_until: Timestamp.nullable(),
    current_period_end: Timestamp.nullable(),
    upgrade: z.record(z.string(), Offer),
    billing_url: z.url(),
  })
  .openapi("Entitlement");

const route = createRoute({
  method: "get",
  path: "/v1/entitlements/{user_id}",
  ...guard("entitlements:read"),
  summary: "A user's entitlements now (online check)",
  tags: ["entitlements"],
  request: { params: z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) }) },
  responses: { 200: json(Entitlement, "The user's entitlements"), ...keyedErrors },
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export default handle(route, async (c) => {
  const { user_id } = c.req.valid("param");
  const { state, claims } = await currentEntitlement(c.get("services"), user_id);
  return c.json(
    {
      user_id,
      tier: state.tier,
      status: state.status,
      features: [...claims.features],
      limits: { ...claims.limits },
      trial_end: iso(state.trialEnd),
      grace_until: iso(state.graceUntil),
      current_period_end: iso(state.currentPeriodEnd),
      upgrade: claims.upgrade as Record<string, z.infer<typeof Offer>>,
      billing_url: claims.billing_url,
    },
    200,
  );
});
