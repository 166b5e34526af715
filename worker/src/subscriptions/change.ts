/**
 * Changes a subscription's tier or billing cycle as the catalog's policy says: now (prorated
 * and charged at once, or onto the next invoice, or not prorated), or at the period end through
 * a Stripe subscription schedule, so Stripe itself switches the price at the renewal. The
 * mirror, the entitlement and the audit row are written in one batch once Stripe has changed.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { DomainError } from "../errors";
import { chargedNow, planChange, type ChangeInput, type ChangePlan } from "./change-plan";
import { previewPlan, prorationDateFor } from "./change-preview";
import { intervalOf } from "./cycle";
import { managedSubscription, recordChange, requirePaidUp, type ManageDeps } from "./managed";
import { idOf, Stripe } from "../stripe-sync";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

export interface ChangeRequest extends ChangeInput {
  /** The `amount_due_now` the user was shown; a fresh preview must still say the same. */
  expectedAmountDueNow?: number | undefined;
  /** The preview's `proration_date`, so the change is prorated at the moment that was previewed. */
  prorationDate?: number | undefined;
}

/** The subscription's discounts, by id: a schedule phase that does not list them drops them. */
const discountsOf = (sub: Stripe.Subscription) => sub.discounts.map((d) => ({ discount: typeof d === "string" ? d : d.id }));

/** Moves the subscription to the plan's price at the end of its current phase, through a schedule. */
async function scheduleAtPeriodEnd(stripe: Stripe, plan: ChangePlan): Promise<void> {
  const { sub, item } = plan.managed;
  const quantity = item.quantity ?? 1;
  const existing = plan.pendingSchedule;
  let schedule: Stripe.SubscriptionSchedule;
  try {
    schedule = existing ? await stripe.subscriptionSchedules.retrieve(existing) : await stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  } catch (e) {
    // Another request attached a schedule since this one read the subscription.
    if (e instanceof Stripe.errors.StripeInvalidRequestError && e.param === "from_subscription") {
      throw new DomainError("conflict", `Another change to ${plan.managed.userId}'s subscription is being made; try again.`, { errors: [{ field: "user_id", message: "a concurrent change" }] });
    }
    throw e;
  }
  const current = schedule.current_phase;
  if (!current) throw new DomainError("upstream_unavailable", `Stripe's schedule ${schedule.id} for ${sub.id} has no current phase.`);
  const discounts = discountsOf(sub);
  try {
    await stripe.subscriptionSchedules.update(schedule.id, {
      end_behavior: "release",
      phases: [
        { items: [{ price: item.price.id, quantity }], start_date: current.start_date, end_date: current.end_date, discounts, proration_behavior: "none" },
        { items: [{ price: plan.priceId, quantity }], duration: intervalOf(plan.price.billingCycle), discounts, metadata: { tier: plan.tier.key } },
      ],
    });
  } catch (e) {
    // A schedule made for this change and left with only today's phase would do nothing but
    // block cancellations: take it off again before reporting the failure.
    if (!existing) await stripe.subscriptionSchedules.release(schedule.id).catch(() => undefined);
    throw e;
  }
}

/** Switches the price now. A charge made now must succeed, or the change is not made (402). */
async function switchNow(stripe: Stripe, plan: ChangePlan, at: number): Promise<string | null> {
  const { sub, item } = plan.managed;
  try {
    const updated = await stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: plan.priceId, quantity: item.quantity ?? 1 }],
      proration_behavior: plan.proration,
      ...(plan.proration === "none" ? {} : { proration_date: at }),
      ...(chargedNow(plan) ? { payment_behavior: "error_if_incomplete" as const } : {}),
      metadata: { tier: plan.tier.key },
    });
    const latest = idOf(updated.latest_invoice);
    return latest !== idOf(sub.latest_invoice) ? latest : null;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeCardError) {
      throw new DomainError(
        "payment_failed",
        `The card on file was declined (${e.decline_code ?? e.code ?? "declined"}), so the subscription was not changed. Update the payment method (POST /v1/portal) and try again.`,
        {
          errors: [{ field: "user_id", message: "the payment for this change was declined", ...(e.decline_code ? { code: e.decline_code } : {}) }],
        },
      );
    }
    throw e;
  }
}

/**
 * Carries out a plan (also used when a retention offer's downgrade is accepted); `statements`
 * join the batch that records it.
 */
export async function applyPlan(deps: ManageDeps, who: Actor, plan: ChangePlan, at: number, extra: { action?: string; statements?: () => BatchItem<"sqlite">[] } = {}): Promise<void> {
  const { stripe } = deps;
  const m = plan.managed;
  const before = { tier: m.tier?.key ?? null, billing_cycle: m.cycle, price: m.item.price.id };
  let invoiceId: string | null = null;
  if (plan.direction === "revert") {
    await stripe.subscriptionSchedules.release(plan.pendingSchedule!);
  } else if (plan.effective === "now") {
    invoiceId = await switchNow(stripe, plan, at);
    // The change made now replaces the one that was waiting for the period end.
    if (plan.pendingSchedule) await stripe.subscriptionSchedules.release(plan.pendingSchedule);
  } else {
    await scheduleAtPeriodEnd(stripe, plan);
  }
  await recordChange(
    deps,
    who,
    m,
    {
      action: extra.action ?? (plan.direction === "revert" ? "subscription.change_reverted" : `subscription.${plan.direction}`),
      before,
      after: { tier: plan.tier.key, billing_cycle: plan.cycle, price: plan.priceId, effective: plan.effective, proration: plan.proration, invoice: invoiceId },
    },
    { invoiceIds: [invoiceId], ...(extra.statements ? { statements: extra.statements } : {}) },
  );
}

export async function changeSubscription(deps: ManageDeps, who: Actor, userId: string, input: ChangeRequest, from: Catalog = defaultCatalog): Promise<SubscriptionView> {
  const managed = await managedSubscription(deps, userId);
  requirePaidUp(managed);
  const plan = await planChange(deps, managed, input, from);
  const at = prorationDateFor(plan, input.prorationDate);
  if (input.expectedAmountDueNow !== undefined) {
    const fresh = await previewPlan(deps, plan, at);
    if (fresh.amount_due_now !== input.expectedAmountDueNow) {
      throw new DomainError(
        "amount_changed",
        `The change now costs ${fresh.amount_due_now} ${fresh.currency} (cents), not ${input.expectedAmountDueNow}; nothing was changed. Confirm the new amount to go ahead.`,
        {
          errors: [{ field: "expected_amount_due_now", message: `a fresh preview says ${fresh.amount_due_now}` }],
          // The route presents the fresh preview: this folder knows no wire shapes.
          extensions: { preview: fresh },
        },
      );
    }
  }
  await applyPlan(deps, who, plan, at);
  return subscriptionView(deps, userId);
}
