/**
 * The change waiting for the period end: the next phase of the subscription's schedule, and the
 * price it moves to. Read by the billing view (`pending_change`) and by plan changes (to replace
 * or drop it).
 */
import type { Stripe } from "../stripe-sync";

export interface PendingPhase {
  scheduleId: string;
  /** The price the next phase bills; null when the next phase names none. */
  priceId: string | null;
  price: Stripe.Price | null;
  startsAt: number;
}

/** Null without an active schedule, or when its current phase is the last. */
export async function pendingPhase(stripe: Stripe, sub: Stripe.Subscription): Promise<PendingPhase | null> {
  if (!sub.schedule) return null;
  const schedule = typeof sub.schedule === "string" ? await stripe.subscriptionSchedules.retrieve(sub.schedule) : sub.schedule;
  if (schedule.status !== "active" && schedule.status !== "not_started") return null;
  const currentEnd = schedule.current_phase?.end_date ?? null;
  const next = currentEnd === null ? undefined : schedule.phases.find((p) => p.start_date >= currentEnd);
  if (!next) return null;
  const ref = next.items[0]?.price;
  const priceId = ref === undefined ? null : typeof ref === "string" ? ref : ref.id;
  const price = ref === undefined ? null : typeof ref === "string" || !("recurring" in ref) ? null : ref;
  return { scheduleId: schedule.id, priceId, price, startsAt: next.start_date };
}
