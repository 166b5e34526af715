/** Resumes payment collection paused with billing/pause.ts: the next invoice is charged again. */
import type { Caller } from "../audit/chain";
import { DomainError } from "../errors";
import { managedSubscription, recordChange, type ManageDeps } from "./managed";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

export async function resumeSubscription(deps: ManageDeps, who: Caller, userId: string): Promise<SubscriptionView> {
  const m = await managedSubscription(deps, userId);
  if (!m.sub.pause_collection) {
    throw new DomainError("no_change", `The subscription of ${userId} is not paused.`, { errors: [{ field: "user_id", message: "not paused" }] });
  }
  await deps.stripe.subscriptions.update(m.sub.id, { pause_collection: "" });
  await recordChange(deps, who, m, { action: "subscription.resumed", before: { pause: m.sub.pause_collection.behavior, resume_at: m.sub.pause_collection.resumes_at ?? null }, after: { pause: null } });
  return subscriptionView(deps, userId);
}
