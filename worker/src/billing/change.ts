/**
 * Changes a subscription's tier or billing cycle as the catalog's policy says: now (prorated
 * and charged at once, or onto the next invoice, or not prorated), or at the period end through
 * a Stripe subscription schedule, so Stripe itself switches the price at the renewal. The
 * mirror, the entitlement and the audit row are written in one batch once Stripe has changed.
 */
import type { Caller } from "../audit/chain";
import type { BatchItem } from "drizzle-orm/batch";
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { DomainError } from "../errors";
import { planChange, type ChangeInput, type ChangePlan } from "./change-plan";
import { previewPlan, prorationDate } from "./change-preview";
import { managedSubscription, recordChange, requirePaidUp, type ManageDeps } from "./managed";
import { idOf } from "./mirror";
import type { Stripe } from "./stripe";
import { subscriptionView, type SubscriptionView } from "./subscription-view";

export interface ChangeRequest extends ChangeInput {
  /** The `amount_due_now` the user was shown; a fresh preview must still say the same. */
  expectedAmountDueNow?: number | undefined;
}

/** Moves the subscription to the plan's price at the end of its current phase, through a schedule. */
async function scheduleAtPeriodEnd(stripe: Stripe, plan: ChangePlan): Promise<void> {
  const { sub, item } = plan.managed;
  const quantity = item.quantity ?? 1;
  const existing = plan.pendingSchedule;
  const schedule = existing ? await stripe.subscriptionSchedules.retrieve(existing) : await stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = schedule.current_phase;
  if (!current) throw new DomainError("upstream_unavailable", `Stripe's schedule ${schedule.id} for ${sub.id} has no current phase.`);
  try {
    await stripe.subscriptionSchedules.update(schedule.id, {
      end_behavior: "release",
      phases: [
        { items: [{ price: item.price.id, quantity }], start_date: current.start_date, end_date: current.end_date },
        { items: [{ price: plan.priceId, quantity }], duration: { interval: plan.price.interval, interval_count: 1 }, metadata: { tier: plan.tier.key } },
      ],
    });
  } catch (e) {
    // A schedule made for this change and left with only today's phase would do nothing but
    // block cancellations: take it off again before reporting the failure.
    if (!existing) await stripe.subscriptionSchedules.release(schedule.id).catch(() => undefined);
    throw e;
  }
}

/**
 * Carries out a plan (also used when a retention offer's downgrade is accepted); `statements`
 * join the batch that records it. Returns the invoice the change billed, if any.
 */
export async function applyPlan(deps: ManageDeps, who: Caller, plan: ChangePlan, at: number, extra: { action?: string; statements?: () => BatchItem<"sqlite">[] } = {}): Promise<void> {
  const { stripe } = deps;
  const m = plan.managed;
  const before = { tier: m.tier?.key ?? null, billing_cycle: m.cycle, price: m.item.price.id };
  let invoiceId: string | null = null;
  if (plan.revert || (plan.pendingSchedule && plan.effective === "now")) {
    // Changing back, or changing now instead: the pending change at the period end is dropped.
    await stripe.subscriptionSchedules.release(plan.pendingSchedule!);
  }
  if (!plan.revert && plan.effective === "now") {
    const updated = await stripe.subscriptions.update(m.sub.id, {
      items: [{ id: m.item.id, price: plan.priceId, quantity: m.item.quantity ?? 1 }],
      proration_behavior: plan.proration,
      ...(plan.proration === "none" ? {} : { proration_date: at }),
      metadata: { tier: plan.tier.key },
    });
    const latest = idOf(updated.latest_invoice);
    if (latest !== idOf(m.sub.latest_invoice)) invoiceId = latest;
  } else if (!plan.revert) {
    await scheduleAtPeriodEnd(stripe, plan);
  }
  await recordChange(
    deps,
    who,
    m,
    {
      action: extra.action ?? (plan.revert ? "subscription.change_reverted" : `subscription.${plan.direction}`),
      before,
      after: { tier: plan.tier.key, billing_cycle: plan.cycle, price: plan.priceId, effective: plan.revert ? "now" : plan.effective, proration: plan.proration, invoice: invoiceId },
    },
    { invoiceIds: [invoiceId], ...(extra.statements ? { statements: extra.statements } : {}) },
  );
}

export async function changeSubscription(deps: ManageDeps, who: Caller, userId: string, input: ChangeRequest, from: Catalog = defaultCatalog): Promise<SubscriptionView> {
  const managed = await managedSubscription(deps, userId);
  requirePaidUp(managed);
  const plan = await planChange(deps, managed, input, from);
  const at = prorationDate(plan);
  if (input.expectedAmountDueNow !== undefined) {
    const fresh = await previewPlan(deps, plan, at);
    if (fresh.amount_due_now !== input.expectedAmountDueNow) {
      throw new DomainError("amount_changed", `The change now costs ${fresh.amount_due_now} ${fresh.currency} (cents), not ${input.expectedAmountDueNow}; nothing was changed. Confirm the new amount to go ahead.`, {
        errors: [{ field: "expected_amount_due_now", message: `a fresh preview says ${fresh.amount_due_now}` }],
        extensions: { preview: fresh },
      });
    }
  }
  await applyPlan(deps, who, plan, at);
  return subscriptionView(deps, userId);
}
