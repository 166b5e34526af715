/**
 * The dunning policy as data (beside the catalog): when each stage of an unpaid invoice happens,
 * counted in days from the first failed payment (Stripe's time), and which decline codes a retry
 * cannot fix. Validated with zod when the module loads, so a bad edit fails the build and every
 * test instead of reaching a customer.
 */
import { z } from "zod";
import { GRACE_DAYS } from "../catalog";

export const DUNNING_STAGES = ["dunning_soft", "dunning_urgent", "dunning_final", "suspended"] as const;
export type DunningStage = (typeof DUNNING_STAGES)[number];

const Stage = z.strictObject({ stage: z.enum(DUNNING_STAGES), day: z.int().positive() });

const isoDate = z.iso.date();

const Retries = z.strictObject({
  /**
   * Who retries a failed payment. `worker` (the default): the tick calls `invoices.pay` on the
   * schedule below, so turn Stripe's automatic retries off (the worker warns in /health when it
   * sees Stripe retrying too). `stripe`: Stripe's own retries (Smart Retries or a schedule) do
   * it; the worker only emails and suspends, and shows Stripe's `next_payment_attempt`.
   */
  by: z.enum(["worker", "stripe"]),
  /** Days after the first failure; each retry happens once, a later one passes over earlier ones that are overdue. */
  days: z.array(z.int().positive()).max(10),
  /**
   * Federal employees are paid every other Friday: a card declined for `insufficient_funds` is
   * retried on the first payday inside the retry interval instead of its scheduled day, when
   * there is one. `anchor` is any payday (a Friday); `hourUtc` leaves time for the deposit to post.
   */
  payday: z.nullable(z.strictObject({ anchor: isoDate, everyDays: z.int().min(1).max(31), hourUtc: z.int().min(0).max(23) })),
});

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
    retries: Retries,
    /**
     * Days after the suspension when the worker cancels the Stripe subscription and marks its open
     * invoices uncollectible (Stripe's "cancel the subscription if all retries fail"); the customer
     * comes back with a new checkout. null keeps it `past_due`, so paying the open invoice brings
     * the customer straight back, but Stripe goes on invoicing every period without access.
     */
    cancelAfterSuspensionDays: z.nullable(z.int().min(0).max(365)),
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
    for (let i = 1; i < p.retries.days.length; i++) {
      if (p.retries.days[i]! <= p.retries.days[i - 1]!) ctx.addIssue({ code: "custom", path: ["retries", "days", i], message: "retry days must increase" });
    }
    if (suspension && p.retries.days.some((d) => d >= suspension.day)) ctx.addIssue({ code: "custom", path: ["retries", "days"], message: "every retry must come before the suspension" });
    if (p.retries.payday && new Date(`${p.retries.payday.anchor}T00:00:00Z`).getUTCDay() !== 5)
      ctx.addIssue({ code: "custom", path: ["retries", "payday", "anchor"], message: "the payday anchor must be a Friday" });
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
  retries: { by: "worker", days: [1, 3, 7, 14], payday: { anchor: "2026-01-02", everyDays: 14, hourUtc: 14 } },
  // Cancelled on day 27 after the failed renewal: before a monthly subscription's next invoice
  // (the shortest month has 28 days), so a suspended customer is never billed for a month in
  // which they had no access, and a suspension still leaves most of a week to pay and come back.
  cancelAfterSuspensionDays: 6,
});

/** The policy with a deployment's overrides (env vars DUNNING_*), validated by the same schema. */
export function withOverrides(
  base: DunningPolicy,
  o: { retriesBy?: "worker" | "stripe" | undefined; paydayAnchor?: string | "off" | undefined; cancelAfterSuspensionDays?: number | null | undefined },
): DunningPolicy {
  const payday =
    o.paydayAnchor === "off"
      ? null
      : o.paydayAnchor && base.retries.payday
        ? { ...base.retries.payday, anchor: o.paydayAnchor }
        : o.paydayAnchor
          ? { anchor: o.paydayAnchor, everyDays: 14, hourUtc: 14 }
          : base.retries.payday;
  return Policy.parse({
    ...base,
    retries: { ...base.retries, by: o.retriesBy ?? base.retries.by, payday },
    // null is an override too: keep the subscription past_due.
    cancelAfterSuspensionDays: o.cancelAfterSuspensionDays === undefined ? base.cancelAfterSuspensionDays : o.cancelAfterSuspensionDays,
  });
}

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

/**
 * When retry slot `slot` (0-based index into `policy.retries.days`) happens for a case anchored
 * at `anchorAt`: its scheduled day, or for `insufficient_funds` the first payday after the
 * previous attempt (`after`) when that payday comes no later than the scheduled day.
 */
export function retryAt(anchorAt: number, slot: number, after: number, lastDeclineCode: string | null, policy: DunningPolicy = dunningPolicy): number | null {
  const day = policy.retries.days[slot];
  if (day === undefined) return null;
  const scheduled = anchorAt + day * DAY;
  const payday = policy.retries.payday;
  if (!payday || lastDeclineCode !== "insufficient_funds") return scheduled;
  const next = nextPayday(after, payday);
  return next <= scheduled ? next : scheduled;
}

/** The first payday (at its hour) strictly after `after` (ms). */
export function nextPayday(after: number, payday: NonNullable<DunningPolicy["retries"]["payday"]>): number {
  const period = payday.everyDays * DAY;
  const first = Date.parse(`${payday.anchor}T00:00:00Z`) + payday.hourUtc * 3_600_000;
  const k = Math.floor((after - first) / period) + 1;
  return first + k * period;
}

/** The first retry slot whose scheduled day is after `now` (slots before it are overdue). */
export function firstSlotAfter(anchorAt: number, now: number, policy: DunningPolicy = dunningPolicy): number {
  const i = policy.retries.days.findIndex((d) => anchorAt + d * DAY > now);
  return i === -1 ? policy.retries.days.length : i;
}
