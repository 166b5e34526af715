/**
 * A user's entitlement on the wire: GET /v1/entitlements/{user_id}, the online decision of
 * POST /v1/entitlements/check, the changes feed, and enforce_tier_access's stored state. The
 * stored state counts in Unix ms and the SDK's claims and decisions in JWT seconds (RFC 7519,
 * where they stay inside tokens); the wire has RFC 3339 instants.
 */
import type { Decision as DecisionValue } from "@federal-job-advisor/entitlements";
import { z } from "zod";
import { ENTITLEMENT_STATUSES } from "../db/schema";
import type { EntitlementChangesPage, EntitlementClaims, EntitlementState } from "../entitlements";
import { presentUpgradeOffer, presentUpgradeOffers, UpgradeOffer } from "./offer";
import type { AccountFlag } from "../disputes";
import { AccountFlagSchema, presentAccountFlags } from "./dispute";
import { Instant, instant, instantOfSeconds, instantOrNull } from "../instant";

export const Entitlement = z.object({
  user_id: z.string(),
  tier: z.string().nullable(),
  status: z.enum(ENTITLEMENT_STATUSES),
  features: z.array(z.string()),
  limits: z.record(z.string(), z.int().nullable()),
  trial_end: Instant.nullable(),
  grace_until: Instant.nullable(),
  current_period_end: Instant.nullable(),
  org_id: z.string().nullable().describe("The organization whose seat grants this (tier agency); null when the user's own plan does"),
  upgrade: z.record(z.string(), UpgradeOffer),
  billing_url: z.url(),
  flags: z
    .array(AccountFlagSchema)
    .describe("What the account is flagged for, newest first: each dispute the dispute policy flagged (a reason other than fraudulent or unrecognized) until it is won. Empty when none"),
});
export type EntitlementWire = z.output<typeof Entitlement>;

export function presentEntitlement(userId: string, state: EntitlementState, claims: EntitlementClaims, flags: AccountFlag[]): EntitlementWire {
  return {
    user_id: userId,
    tier: state.tier,
    status: state.status,
    features: [...claims.features],
    limits: { ...claims.limits },
    trial_end: instantOrNull(state.trialEnd),
    grace_until: instantOrNull(state.graceUntil),
    current_period_end: instantOrNull(state.currentPeriodEnd),
    org_id: state.orgId,
    upgrade: presentUpgradeOffers(claims.upgrade),
    billing_url: claims.billing_url,
    flags: presentAccountFlags(flags),
  };
}

/** What decided an agent's access question: the entitlement as stored (enforce_tier_access). */
export const StoredEntitlement = Entitlement.pick({ tier: true, status: true, grace_until: true, trial_end: true });

export const Decision = z.object({
  allowed: z.boolean(),
  reason: z.string(),
  message: z.string().optional(),
  upgrade: UpgradeOffer.optional(),
  billing_url: z.string().optional(),
  grace_until: Instant.nullable().optional().describe("`payment_past_due`: when access will be suspended"),
  trial_end: Instant.nullable().optional().describe("`trialing`: when the trial ends"),
  as_of: Instant.nullable().describe("When the data behind the decision was read (an online check reads it now)"),
});
export type DecisionWire = z.output<typeof Decision>;

export function presentDecision(d: DecisionValue): DecisionWire {
  return {
    allowed: d.allowed,
    reason: d.reason,
    ...(d.message !== undefined ? { message: d.message } : {}),
    ...(d.upgrade !== undefined ? { upgrade: presentUpgradeOffer(d.upgrade) } : {}),
    ...(d.billing_url !== undefined ? { billing_url: d.billing_url } : {}),
    ...(d.grace_until !== undefined ? { grace_until: instantOfSeconds(d.grace_until) } : {}),
    ...(d.trial_end !== undefined ? { trial_end: instantOfSeconds(d.trial_end) } : {}),
    as_of: instantOfSeconds(d.as_of),
  };
}

export const EntitlementChanges = z.object({
  data: z.array(z.object({ user_id: z.string(), changed_at: Instant.describe("The user's newest change in the page") })),
  next_cursor: z.string(),
  has_more: z.boolean(),
});

export function presentEntitlementChanges(p: EntitlementChangesPage): z.output<typeof EntitlementChanges> {
  return { data: p.data.map((d) => ({ user_id: d.user_id, changed_at: instant(d.changed_at) })), next_cursor: p.next_cursor, has_more: p.has_more };
}
