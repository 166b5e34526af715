/**
 * The dunning policy as data (beside the catalog): when each stage of an unpaid invoice happens,
 * counted in days from the first failed payment (Stripe's time), and which decline codes a retry
 * cannot fix. Validated with zod when the module loads, so a bad edit fails the build and every
 * test instead of reaching a customer.
 */
import { z } from "zod";
import { GRACE_DAYS } from "../entitlements/state";

export const DUNNING_STAGES = ["dunning_soft", "dunning_urgent", "dunning_final", "suspended"] as const;
export type DunningStage = (typeof DUNNING_STAGES)[number];

const Stage = z.strictObject({ stage: z.enum(DUNNING_STAGES), day: z.int().positive() });

const Policy = z
  .strictObject({
    /** In the order they happen; the last is the suspension, on the day the grace ends. */
    stages: z.array(Stage).min(1),
    /** Stripe's decline codes that a retry of the same card cannot fix ("use another card"). */
    hardDeclineCodes: z.array(z.string().regex(/^[a-z_]+$/)),
    /** `do_not_honor` is often soft (the bank's catch-all): hard only when the policy says. */
    doNotHonorIsHard: z.boolean(),
    /** Cases a tick works on per selection (Worker CPU limits): the rest continue next tick. */
    tickBatch: z.int().min(1).max(500),
  })
  .superRefine((p, ctx) => {
    for (let i = 1; i < p.stages.length; i++) {
      if (p.stages[i]!.day <= p.stages[i - 1]!.day) ctx.addIssue({ code: "custom", path: ["stages", i, "day"], message: "stages must be in increasing day order" });
    }
    if (new Set(p.stages.map((s) => s.stage)).size !== p.stages.length) ctx.addIssue({ code: "custom", path: ["stages"], message: "each stage at most once" });
    const suspension = p.stages.find((s) => s.stage === "suspended");
    // Access itself is derived from the grace (entitlements/state.ts): the two must agree.
    if (suspension && suspension.day !== GRACE_DAYS) ctx.addIssue({ code: "custom", path: ["stages"], message: `suspension must be on day ${GRACE_DAYS}, the end of the grace` });
    if (suspension && p.stages.at(-1) !== suspension) ctx.addIssue({ code: "custom", path: ["stages"], message: "suspension must be the last stage" });
  });

export type DunningPolicy = z.infer<typeof Policy>;

export const dunningPolicy: DunningPolicy = Policy.parse({
  stages: [
    { stage: "dunning_soft", day: 3 },
    { stage: "dunning_urgent", day: 7 },
    { stage: "dunning_final", day: 14 },
    { stage: "suspended", day: 21 },
  ],
  hardDeclineCodes: [
    "stolen_card",
    "lost_card",
    "pickup_card",
    "fraudulent",
    "incorrect_number",
    "invalid_account",
    "card_not_supported",
    "currency_not_supported",
    "expired_card",
    "restricted_card",
    "security_violation",
    "revocation_of_all_authorizations",
    "new_account_information_available",
  ],
  doNotHonorIsHard: false,
  tickBatch: 100,
});

export function isHardDecline(code: string | null | undefined, policy: DunningPolicy = dunningPolicy): boolean {
  if (!code) return false;
  if (code === "do_not_honor") return policy.doNotHonorIsHard;
  return policy.hardDeclineCodes.includes(code);
}

const DAY = 86_400_000;

/** When a stage is due for a case anchored at `anchorAt` (ms). */
export const stageAt = (anchorAt: number, day: number) => anchorAt + day * DAY;

/** The first stage after `reached` (null: none reached yet), or undefined when none is left. */
export function nextStage(reached: DunningStage | null, policy: DunningPolicy = dunningPolicy) {
  const i = reached === null ? -1 : policy.stages.findIndex((s) => s.stage === reached);
  return policy.stages[i + 1];
}
