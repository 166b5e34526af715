/**
 * Accepting a retention offer: a downgrade goes through the same change machinery as any
 * downgrade (so the catalog's downgrade policy applies), a discount puts a repeating Stripe
 * coupon on the subscription. The offer is marked accepted in the batch that records the change.
 */
import { and, eq } from "drizzle-orm";
import { planName } from "../catalog";
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor } from "../audit";
import { retentionOffers } from "../db/schema";
import { enqueueEmail, isEmailAddress } from "../email";
import { DomainError } from "../errors";
import { findOffer, type OfferTerms } from "./cancel";
import { applyPlan } from "./change";
import { planChange } from "./change-plan";
import { prorationDate } from "./change-preview";
import { managedSubscription, recordChange, requirePaidUp, type ManageDeps, type Managed } from "./managed";
import { idOf, Stripe } from "../stripe-sync";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

/** The coupon behind a discount offer: one per terms, made once (its id says the terms). */
async function retentionCoupon(stripe: Stripe, terms: OfferTerms): Promise<string> {
  const percent = terms.percent_off ?? 0;
  const once = terms.duration === "once";
  const months = terms.duration_in_months ?? 1;
  const id = `retention_${String(percent).replace(".", "_")}pct_${once ? "once" : `${months}m`}`;
  try {
    const existing = await stripe.coupons.retrieve(id);
    if (existing.valid) return existing.id;
  } catch (e) {
    if (!(e instanceof Stripe.errors.StripeInvalidRequestError && e.code === "resource_missing")) throw e;
  }
  const created = await stripe.coupons.create(
    once
      ? { id, percent_off: percent, duration: "once", name: `Retention: ${percent} % off the next renewal` }
      : { id, percent_off: percent, duration: "repeating", duration_in_months: months, name: `Retention: ${percent} % off for ${months} months` },
    { idempotencyKey: `retention-coupon:${id}` },
  );
  return created.id;
}

/**
 * The confirmation email, for the batch that marks the offer accepted: one per offer (its key),
 * however often or concurrently the offer is accepted. `effectiveAt` (ms) is when the customer
 * first sees the offer on a bill or a plan. A customer without an address the outbox takes gets
 * no email, and the acceptance still goes through.
 */
async function confirmation(deps: ManageDeps, m: Managed, offer: typeof retentionOffers.$inferSelect): Promise<(effectiveAt: number) => BatchItem<"sqlite">[]> {
  const customer = await deps.stripe.customers.retrieve(idOf(m.sub.customer)!);
  const to = customer.deleted ? null : customer.email;
  if (customer.deleted || !to || !isEmailAddress(to)) return () => [];
  return (effectiveAt) => [
    enqueueEmail(deps, {
      key: `${offer.id}:retention_offer_confirmed`,
      to,
      userId: m.userId,
      // The offer's own wording, as the user saw it when they accepted (its full stop is the template's).
      email: { template: "retention_offer_confirmed", name: customer.name ?? null, plan: planName(m.tier?.key), offer: offer.description.replace(/\.$/, ""), effectiveAt },
    }),
  ];
}

export async function acceptOffer(deps: ManageDeps, who: Actor, userId: string, offerId: string): Promise<SubscriptionView> {
  const offer = await findOffer(deps, userId, offerId);
  if (offer.status === "accepted") return subscriptionView(deps, userId);
  if (offer.status === "declined") {
    throw new DomainError(
      "conflict",
      `The offer ${offerId} was declined when the subscription was set to cancel; an offer is made once. Reactivate to keep the subscription (POST /v1/subscriptions/${userId}/reactivate).`,
      {
        errors: [{ field: "offer_id", message: "this offer was declined" }],
      },
    );
  }
  const m = await managedSubscription(deps, userId);
  requirePaidUp(m);
  const now = m.now * 1000;
  const email = await confirmation(deps, m, offer);
  const accepted = (effectiveAt: number) => () => [
    deps.db
      .update(retentionOffers)
      .set({ status: "accepted", decidedAt: now })
      .where(and(eq(retentionOffers.id, offer.id), eq(retentionOffers.status, "open"))),
    ...email(effectiveAt),
  ];
  // A discount first shows on the next invoice, at the end of the current period.
  const periodEnd = m.item.current_period_end * 1000;
  const terms = JSON.parse(offer.terms) as OfferTerms;
  if (offer.kind === "downgrade") {
    const plan = await planChange(deps, m, { tier: terms.to_tier ?? "" });
    await applyPlan(deps, who, plan, prorationDate(plan), { action: "subscription.retention_accepted", statements: accepted(plan.effective === "now" ? now : periodEnd) });
  } else {
    const coupon = await retentionCoupon(deps.stripe, terms);
    // Stripe's `discounts` replaces the list: the discounts the user has stay, by id.
    const kept = m.sub.discounts.map((d) => ({ discount: typeof d === "string" ? d : d.id }));
    await deps.stripe.subscriptions.update(m.sub.id, { discounts: [...kept, { coupon }] });
    await recordChange(deps, who, m, { action: "subscription.retention_accepted", after: { offer: offer.id, kind: offer.kind, coupon } }, { statements: accepted(periodEnd) });
  }
  return subscriptionView(deps, userId);
}
