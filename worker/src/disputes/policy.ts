/**
 * What a dispute does to the account, as data (like dunning's and the refunds' policies). By
 * default a dispute whose reason says the card's owner never agreed to pay (`fraudulent`,
 * `unrecognized`) cancels the subscription at once and ends access: charging that card again
 * invites a second dispute. Any other reason (the service, a duplicate, a cancellation) keeps
 * access and flags the account, for a person to look at while the dispute runs. Validated with
 * zod when the module loads, so a bad edit fails the build and every test.
 */
import { z } from "zod";
import { DISPUTE_POLICY_ACTIONS, type DisputePolicyAction } from "../db/schema";

const Action = z.enum(DISPUTE_POLICY_ACTIONS);

const Policy = z.strictObject({
  /** Stripe's dispute reasons with an action of their own. */
  byReason: z.record(z.string().regex(/^[a-z_]+$/), Action),
  /** Every other reason (Stripe adds reasons over time: a new one is decided here). */
  otherReasons: Action,
});

export type DisputePolicy = z.infer<typeof Policy>;

export const disputePolicy: DisputePolicy = Policy.parse({
  byReason: { fraudulent: "end_access", unrecognized: "end_access" },
  otherReasons: "flag_account",
});

/** The decision and the rule that made it, kept on the dispute and in the audit row. */
export function decideDispute(policy: DisputePolicy, reason: string): { action: DisputePolicyAction; rule: string } {
  const own = Object.hasOwn(policy.byReason, reason) ? policy.byReason[reason] : undefined;
  return own ? { action: own, rule: `byReason.${reason}` } : { action: policy.otherReasons, rule: "otherReasons" };
}
