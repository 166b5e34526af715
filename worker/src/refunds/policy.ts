/**
 * What a refund does to access, as data (like dunning's policy): a refund that gives back the
 * whole of the current period's invoice ends access now (the subscription is cancelled at once
 * in Stripe, so Stripe, the mirror and the entitlement agree); a partial refund, or a full one of
 * an earlier period's invoice, changes nothing. A request's `end_access` overrides the policy, and
 * so does `metadata.end_access` ("true"/"false") on a credit note or refund made in the dashboard.
 * Validated with zod when the module loads, so a bad edit fails the build and every test.
 */
import { z } from "zod";

export const REFUND_ACCESS_ACTIONS = ["end_access", "keep_access"] as const;
export type RefundAccessAction = (typeof REFUND_ACCESS_ACTIONS)[number];

const Action = z.enum(REFUND_ACCESS_ACTIONS);

const Policy = z.strictObject({
  fullRefund: z.strictObject({
    /** The invoice pays for the period the subscription is in now. */
    currentPeriod: Action,
    /** The invoice paid for a period already over: the user had the service. */
    earlierPeriod: Action,
  }),
  /** Some of the invoice stays paid (a goodwill credit, a duplicate line). */
  partialRefund: Action,
});

export type RefundPolicy = z.infer<typeof Policy>;

export const refundPolicy: RefundPolicy = Policy.parse({
  fullRefund: { currentPeriod: "end_access", earlierPeriod: "keep_access" },
  partialRefund: "keep_access",
});

export interface RefundFacts {
  /** Nothing of the invoice stays paid once this refund is made. */
  full: boolean;
  /** The invoice's subscription lines cover the subscription's current period. */
  currentPeriod: boolean;
  /** The request's (or the Stripe object's metadata) `end_access`, when given. */
  override: boolean | null;
}

/** The decision and the rule that made it, for the audit row. */
export function decideAccess(policy: RefundPolicy, f: RefundFacts): { endAccess: boolean; rule: string } {
  if (f.override !== null) return { endAccess: f.override, rule: "end_access given" };
  if (!f.full) return { endAccess: policy.partialRefund === "end_access", rule: "partialRefund" };
  const rule = f.currentPeriod ? "fullRefund.currentPeriod" : "fullRefund.earlierPeriod";
  return { endAccess: (f.currentPeriod ? policy.fullRefund.currentPeriod : policy.fullRefund.earlierPeriod) === "end_access", rule };
}

/** `metadata.end_access` as Stripe keeps it: "true" or "false", anything else is no override. */
export function overrideOf(metadata: Record<string, string> | null | undefined): boolean | null {
  const v = metadata?.end_access;
  return v === "true" ? true : v === "false" ? false : null;
}
