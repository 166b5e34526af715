/**
 * Undoes a pending cancellation before the period ends: the subscription renews as before.
 * An ended subscription cannot come back (Stripe cannot revive it): the user starts a new one.
 */
import type { Actor } from "../audit";
import { DomainError } from "../errors";
import { managedSubscription, recordChange, requirePaidUp, type ManageDeps } from "./managed";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

export async function reactivateSubscription(deps: ManageDeps, who: Actor, userId: string): Promise<SubscriptionView> {
  const m = await managedSubscription(deps, userId);
  requirePaidUp(m);
  if (!m.sub.cancel_at_period_end && m.sub.cancel_at === null) {
    throw new DomainError("no_change", `The subscription of ${userId} is not set to cancel; there is nothing to reactivate.`, { errors: [{ field: "user_id", message: "no pending cancellation" }] });
  }
  await deps.stripe.subscriptions.update(m.sub.id, m.sub.cancel_at_period_end ? { cancel_at_period_end: false } : { cancel_at: "" });
  await recordChange(deps, who, m, { action: "subscription.reactivated", before: { cancel_at: m.sub.cancel_at }, after: { cancel_at: null } });
  return subscriptionView(deps, userId);
}
