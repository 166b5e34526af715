/**
 * enforce_tier_access: may this user use this feature now? The answer comes from the stored
 * entitlement (what Stripe's state made of it), through the same decision function as
 * POST /v1/entitlements/check and the SDK, never from what the agent believes the tier is:
 * `current_tier` is only compared with it, and a disagreement is said out loud, since an agent
 * working from a stale tier would otherwise keep promising the wrong thing.
 */
import { z } from "zod";
import { findTier } from "../catalog";
import { currentEntitlement, can } from "../entitlements";
import { StoredEntitlement, presentUpgradeOffer, UpgradeOffer } from "../presenters";
import { Instant, instantOfSeconds } from "../instant";
import { AnyTierKey, UserId } from "../fields";
import { Feature } from "./schemas";
import { defineTool } from "./types";

const Input = z.strictObject({
  user_id: UserId,
  feature: Feature,
  current_tier: z.union([AnyTierKey, z.literal("none")]).describe("The tier the agent believes the user has (`none`: no subscription); compared with the stored one, never trusted"),
});

const Output = z.object({
  user_id: z.string(),
  feature: z.string(),
  allowed: z.boolean(),
  reason: z.string().describe("Why: in_tier, trialing, payment_past_due (grace), not_in_tier, suspended, paused, trial_expired, canceled, no_subscription"),
  message: z.string().nullable().describe("A sentence to show the user"),
  upgrade_prompt: z.string().nullable().describe("What to offer when buying would unlock the feature; null otherwise"),
  upgrade: UpgradeOffer.nullable(),
  billing_url: z.string().nullable(),
  stored: StoredEntitlement.describe("The entitlement as stored (Stripe's state): this is what decided"),
  current_tier: z.string().describe("As the agent gave it"),
  tier_mismatch: z.boolean().describe("The agent's current_tier differs from the stored tier"),
  mismatch: z.string().nullable().describe("What differs, when tier_mismatch"),
  as_of: Instant.nullable().describe("When the data behind the decision was read"),
});

export const enforceTierAccess = defineTool({
  name: "enforce_tier_access",
  description:
    "Decide whether a user may use a feature now, from the stored subscription state (synced from Stripe), with the reason and an upgrade prompt when the answer is no. `current_tier` is what you believe the user has: it never changes the answer, and `tier_mismatch` says when it differs from the stored tier.",
  input: Input,
  output: Output,
  // What GET /v1/entitlements/{user_id} needs: the stored entitlement is what the tool reveals.
  permission: "entitlements:read",
  twin: { method: "GET", path: "/v1/entitlements/{user_id}" },
  access: "read",
  examples: [{ user_id: "user_123", feature: "nationwide_job_search", current_tier: "mobile" }],
  async handler(s, input) {
    const { state, claims } = await currentEntitlement(s, input.user_id);
    const d = can(claims, input.feature);
    // A tier whose status grants nothing (canceled, suspended) is still the stored tier: the
    // agent claiming `local` for a canceled local subscriber is right about the tier.
    const storedTier = state.status === "none" ? null : state.tier;
    const claimed = input.current_tier === "none" ? null : input.current_tier;
    const mismatch = storedTier !== claimed;
    const name = (t: string | null) => (t === null ? "no subscription" : `the ${findTier(t)?.name ?? t} tier`);
    return {
      user_id: input.user_id,
      feature: input.feature,
      allowed: d.allowed,
      reason: d.reason,
      message: d.message ?? null,
      upgrade_prompt: d.upgrade ? (d.message ?? null) : null,
      upgrade: d.upgrade ? presentUpgradeOffer(d.upgrade) : null,
      billing_url: d.billing_url ?? null,
      stored: { tier: storedTier, status: state.status, grace_until: instantOfSeconds(claims.grace_until), trial_end: instantOfSeconds(claims.trial_end) },
      current_tier: input.current_tier,
      tier_mismatch: mismatch,
      mismatch: mismatch
        ? `You said ${name(claimed)}, but the stored state (from Stripe) says ${name(storedTier)}${storedTier ? ` (${state.status})` : ""}; the answer follows the stored state.`
        : null,
      as_of: instantOfSeconds(d.as_of),
    };
  },
});
