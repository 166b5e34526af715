/**
 * The trial-ending email, sent when Stripe says a trial ends soon
 * (`customer.subscription.trial_will_end`, three days before): stored in the outbox in the sync's
 * own batch, so the email exists exactly when the event is marked processed.
 *
 * The facts come from Stripe, never from the mirror or the catalog: the amount is Stripe's own
 * preview of the first paid invoice (discounts and tax as Stripe computes them), and whether a
 * card is on file is the subscription's or the customer's default payment method. The key
 * `trial_ending:<subscription>:<trial_end>` makes a redelivered event, a replay or a second
 * isolate store nothing more, while a trial extended to a new end gets its own reminder.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { catalogPriceOf, planName } from "../catalog";
import { enqueueEmail, isEmailAddress } from "../email";
import type { Services } from "../services";
import { idOf, metadataUserId } from "./mirror";
import { Stripe } from "./stripe";

type Deps = Pick<Services, "db" | "stripe" | "clock" | "appBaseUrl">;

export const trialEndingKey = (subscriptionId: string, trialEnd: number) => `trial_ending:${subscriptionId}:${trialEnd}`;

/**
 * The outbox statement of each subscription's trial-ending email, or nothing for one that is no
 * longer trialing, ends with its trial (set to cancel: there is no charge to announce), or whose
 * customer has no address the outbox takes. `known` are objects this sync already fetched.
 */
export async function trialEndingStatements(
  s: Deps,
  subscriptionIds: Iterable<string>,
  known: { subscriptions: Map<string, { sub: Stripe.Subscription }>; customers: Map<string, Stripe.Customer | { id: string; deleted: true }> },
): Promise<BatchItem<"sqlite">[]> {
  const out: BatchItem<"sqlite">[] = [];
  for (const id of new Set(subscriptionIds)) {
    const sub = known.subscriptions.get(id)?.sub ?? (await s.stripe.subscriptions.retrieve(id));
    const trialEnd = sub.trial_end;
    if (sub.status !== "trialing" || trialEnd === null) continue;
    if (sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= trialEnd)) continue;
    const customerId = idOf(sub.customer)!;
    const customer = known.customers.get(customerId) ?? (await s.stripe.customers.retrieve(customerId));
    if ("deleted" in customer && customer.deleted) continue;
    const c = customer as Stripe.Customer;
    const to = c.email ?? "";
    // An address the outbox would refuse skips the email, never the sync's batch.
    if (!isEmailAddress(to)) continue;
    const preview = await firstInvoicePreview(s.stripe, sub.id);
    if (!preview) continue;
    const price = sub.items.data[0]?.price;
    const tier = price ? (catalogPriceOf(price)?.tier.key ?? null) : null;
    const hasPaymentMethod = Boolean(sub.default_payment_method ?? sub.default_source ?? c.invoice_settings?.default_payment_method ?? c.default_source);
    out.push(
      enqueueEmail(s, {
        key: trialEndingKey(sub.id, trialEnd),
        to,
        // An invalid one is ignored here as in the mirror, which this same sync logs it through.
        userId: metadataUserId(sub, () => {}) ?? metadataUserId(c, () => {}),
        email: {
          template: "trial_ending",
          name: c.name ?? null,
          plan: planName(tier),
          trialEndsAt: trialEnd * 1000,
          hasPaymentMethod,
          amountAfterTrial: { amount: preview.amount_due, currency: preview.currency },
        },
      }),
    );
  }
  return out;
}

/** Stripe's preview of the invoice the trial's end makes; null when Stripe says there is none. */
async function firstInvoicePreview(stripe: Stripe, subscriptionId: string): Promise<Stripe.Invoice | null> {
  try {
    return await stripe.invoices.createPreview({ subscription: subscriptionId });
  } catch (e) {
    if (e instanceof Stripe.errors.StripeInvalidRequestError && e.code === "invoice_upcoming_none") return null;
    throw e;
  }
}
