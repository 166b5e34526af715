/**
 * Stripe's time-based proration: an item changed at `prorationDate` inside [periodStart,
 * periodEnd) is credited `amount × remaining / period` for the old price ("Unused time on …")
 * and debited the same fraction of the new price ("Remaining time on …"), where remaining =
 * periodEnd − prorationDate and period = periodEnd − periodStart, in seconds. Each line is
 * rounded to an integer number of cents on its own.
 *
 * Rounding: the exact rational amount × remaining / period is rounded half away from zero
 * using integer arithmetic (amount × remaining stays far below 2^53 for any real price and a
 * period of years), so no floating-point error can change a cent.
 */
export function prorate(amount: number, remainingSeconds: number, periodSeconds: number): number {
  if (periodSeconds <= 0) return 0;
  const remaining = Math.min(Math.max(remainingSeconds, 0), periodSeconds);
  const sign = amount < 0 ? -1 : 1;
  const a = Math.abs(amount);
  return sign * Math.floor((2 * a * remaining + periodSeconds) / (2 * periodSeconds));
}

/** round-half-up(amount × percent / 100) for percentage coupons, in integers. */
export function percentOf(amount: number, percent: number): number {
  const sign = amount < 0 ? -1 : 1;
  return sign * Math.floor((2 * Math.abs(amount) * percent + 100) / 200);
}
