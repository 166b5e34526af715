/**
 * Pausing and resuming payment collection (Stripe's `pause_collection`). While paused, the
 * invoices Stripe makes are voided, so the user owes nothing for the pause; whether they keep
 * access meanwhile is the catalog's `paused_keeps_access` (default: no). A pause can end by
 * itself at `resume_at`.
 */
import type { Actor } from "../audit";
import { DomainError } from "../errors";
import { managedSubscription, recordChange, requirePaidUp, type ManageDeps } from "./managed";
import { subscriptionView, type SubscriptionView } from "./subscription-view";
import { instantOfSeconds } from "../instant";

export interface PauseInput {
  /** Unix seconds when collection resumes by itself; omitted: until resumed. */
  resumeAt?: number | undefined;
}

export async function pauseSubscription(deps: ManageDeps, who: Actor, userId: string, input: PauseInput): Promise<SubscriptionView> {
  const m = await managedSubscription(deps, userId);
  if (m.sub.pause_collection) {
    throw new DomainError("no_change", `The subscription of ${userId} is already paused; resume it first to pause it again.`, { errors: [{ field: "user_id", message: "already paused" }] });
  }
  if (m.sub.status === "trialing") {
    throw new DomainError("conflict", `A trial cannot be paused (its end would bill nothing and restart free); cancel it instead.`, {
      errors: [{ field: "user_id", message: "the subscription is in its trial" }],
    });
  }
  requirePaidUp(m);
  if (input.resumeAt !== undefined && input.resumeAt <= m.now) {
    throw new DomainError("validation_failed", "resume_at must be in the future.", { errors: [{ field: "resume_at", message: `must be after ${instantOfSeconds(m.now)} (now)` }] });
  }
  await deps.stripe.subscriptions.update(m.sub.id, { pause_collection: { behavior: "void", ...(input.resumeAt !== undefined ? { resumes_at: input.resumeAt } : {}) } });
  await recordChange(deps, who, m, { action: "subscription.paused", after: { resume_at: input.resumeAt ?? null } });
  return subscriptionView(deps, userId);
}
