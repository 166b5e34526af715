import type Stripe from "stripe";

const DAY = 86_400;

/**
 * Billing period boundaries, anchored like Stripe's: the k-th boundary after the billing cycle
 * anchor keeps the anchor's day of month (clamped to the month's last day, so an anchor on the
 * 31st bills on Feb 28/29 and then on Mar 31 again) and its time of day.
 */
export function boundary(anchor: number, interval: Stripe.Price.Recurring.Interval, count: number, k: number): number {
  if (interval === "day") return anchor + k * count * DAY;
  if (interval === "week") return anchor + k * count * 7 * DAY;
  const d = new Date(anchor * 1000);
  const months = interval === "year" ? 12 * count * k : count * k;
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const targetYear = y + Math.floor(m / 12);
  const targetMonth = ((m % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  return Math.floor(Date.UTC(targetYear, targetMonth, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000);
}

/** The first boundary strictly after `t`. */
export function nextBoundary(anchor: number, interval: Stripe.Price.Recurring.Interval, count: number, t: number): number {
  let k = 1;
  // Jump close first so long-lived anchors do not loop through every past period.
  if (t > anchor) {
    const approx = interval === "day" ? DAY : interval === "week" ? 7 * DAY : interval === "month" ? 28 * DAY : 365 * DAY;
    k = Math.max(1, Math.floor((t - anchor) / (approx * count * 1.2)));
  }
  while (boundary(anchor, interval, count, k) <= t) k++;
  return boundary(anchor, interval, count, k);
}

/**
 * Restarts a subscription's billing cycle at `at` on its first item's price (an interval
 * change, a resume, a schedule phase with `billing_cycle_anchor: phase_start`): the anchor moves
 * there and every item's period becomes [at, next boundary). Returns that end; null for an item
 * without a recurring price, which is left as it is.
 */
export function restartCycle(sub: Stripe.Subscription, at: number): number | null {
  const rec = sub.items.data[0]?.price.recurring;
  if (!rec) return null;
  sub.billing_cycle_anchor = at;
  const end = nextBoundary(at, rec.interval, rec.interval_count, at);
  for (const it of sub.items.data) {
    it.current_period_start = at;
    it.current_period_end = end;
  }
  return end;
}

export const DAY_SECONDS = DAY;
