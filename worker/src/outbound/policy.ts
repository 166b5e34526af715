/**
 * How outbound deliveries are retried, as data: Stripe's own window (three days), a backoff that
 * starts within seconds and settles at every ten hours, a 15 s answer, and three days of failures
 * before an endpoint is disabled. WEBHOOK_RETRY_DELAYS replaces the delays (tests, local runs).
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface DeliveryPolicy {
  /** Delay after the nth failed attempt of a round (n from 1); the last repeats. */
  delaysMs: readonly number[];
  /** A round (creation, retry, replay) that has not succeeded this long after it began is parked. */
  windowMs: number;
  /** An endpoint whose every attempt failed this long is disabled. */
  disableAfterMs: number;
  /** An answer after this is a failure. */
  timeoutMs: number;
  /** How long a claim holds a delivery: past it another sender may take the attempt over. */
  leaseMs: number;
  /** How much of an answer the attempt log keeps. */
  excerptChars: number;
}

export const DELIVERY_POLICY: DeliveryPolicy = {
  delaysMs: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR],
  windowMs: 3 * DAY,
  disableAfterMs: 3 * DAY,
  timeoutMs: 15 * SECOND,
  leaseMs: 60 * SECOND,
  excerptChars: 500,
};

export function withDelays(policy: DeliveryPolicy, delaysMs: readonly number[] | undefined): DeliveryPolicy {
  return delaysMs && delaysMs.length > 0 ? { ...policy, delaysMs } : policy;
}

/** The wait after the `failures`th failed attempt of a round. */
export function delayAfter(policy: DeliveryPolicy, failures: number): number {
  return policy.delaysMs[Math.min(Math.max(failures, 1), policy.delaysMs.length) - 1]!;
}

/**
 * What a failed attempt leads to: the next attempt's time, or parking when that would fall
 * outside the round's window (so the last attempt is the last one inside three days).
 */
export function afterFailure(policy: DeliveryPolicy, failures: number, roundStartedAt: number, now: number): { next: number } | { parked: true } {
  const next = now + delayAfter(policy, failures);
  return next - roundStartedAt > policy.windowMs ? { parked: true } : { next };
}
