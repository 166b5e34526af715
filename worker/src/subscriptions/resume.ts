/**
 * Resumes payment collection paused with subscriptions/pause.ts.
 *
 * When the pause ran over a renewal, Stripe voided that renewal's invoice, so the period now
 * running was never paid: resuming as is would give its rest away (Stripe bills again only at
 * the next renewal). Then the billing cycle restarts now and the new full period is charged at
 * once, and a declined card leaves the subscription paused (402). A pause that ended within a
 * paid period just resumes.
 */
import type { Actor } from "../audit";
import { DomainError } from "../errors";
import { idOf, Stripe } from "../stripe-sync";
import { managedSubscription, recordChange, type Managed, type ManageDeps } from "./managed";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

export async function resumeSubscription(deps: ManageDeps, who: Actor, userId: string): Promise<SubscriptionView> {
  const m = await managedSubscription(deps, userId);
  if (!m.sub.pause_collection) {
    throw new DomainError("no_change", `The subscription of ${userId} is not paused.`, { errors: [{ field: "user_id", message: "not paused" }] });
  }
  const restart = await periodUnpaid(deps.stripe, m);
  let invoiceId: string | null = null;
  try {
    const updated = await deps.stripe.subscriptions.update(m.sub.id, {
      pause_collection: "",
      ...(restart ? { billing_cycle_anchor: { type: "now" }, proration_behavior: "none" as const, payment_behavior: "error_if_incomplete" as const } : {}),
    });
    if (restart) invoiceId = idOf(updated.latest_invoice);
  } catch (e) {
    if (e instanceof Stripe.errors.StripeCardError) {
      throw new DomainError(
        "payment_failed",
        `The card on file was declined (${e.decline_code ?? e.code ?? "declined"}), so the subscription stays paused: the renewal made while it was paused was not charged, so resuming starts a new period paid now. Update the payment method (POST /v1/portal) and try again.`,
        {
          errors: [{ field: "user_id", message: "the payment for the new period was declined", ...(e.decline_code ? { code: e.decline_code } : {}) }],
        },
      );
    }
    throw e;
  }
  await recordChange(
    deps,
    who,
    m,
    {
      action: "subscription.resumed",
      before: { pause: m.sub.pause_collection.behavior, resume_at: m.sub.pause_collection.resumes_at ?? null },
      after: { pause: null, new_period_charged: restart, invoice: invoiceId },
    },
    { invoiceIds: [invoiceId] },
  );
  return subscriptionView(deps, userId);
}

/** Whether the running period's renewal was voided during the pause (its invoice was made at the period's start). */
async function periodUnpaid(stripe: Stripe, m: Managed): Promise<boolean> {
  const latestId = idOf(m.sub.latest_invoice);
  if (!latestId) return false;
  const latest = await stripe.invoices.retrieve(latestId);
  return latest.status === "void" && latest.billing_reason === "subscription_cycle" && latest.created >= m.item.current_period_start;
}
