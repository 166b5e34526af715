/**
 * One user's current subscription as a billing page shows it: what the mirror has (tier, cycle,
 * status, periods, cancel_at_period_end), and what only Stripe knows (cancel_at, a pause, the
 * discount's terms, a scheduled change, the next invoice's preview, the open invoice of a past-due
 * subscription and where to pay it). Times are unix seconds.
 *
 * The current subscription is the one the user's entitlement state points to, else their newest
 * mirrored subscription that is not canceled.
 */
import { and, desc, eq, ne } from "drizzle-orm";
import { catalogPriceOf, type BillingCycle } from "../catalog";
import type { Db } from "../db/client";
import { subscriptions } from "../db/schema";
import { readEntitlement } from "../entitlements";
import { DomainError } from "../errors";
import type { Services } from "../services";
import type { Stripe } from "../stripe-sync";

import { billingCycle } from "./cycle";
import { pendingPhase } from "./pending-change";

export type { BillingCycle };

export interface Discount {
  coupon_id: string;
  percent_off: number | null;
  amount_off: number | null;
  ends_at: number | null;
}

export interface PendingChange {
  tier: string | null;
  billing_cycle: BillingCycle | null;
  effective_at: number;
}

export interface NextInvoice {
  amount_due: number;
  tax: number;
  currency: string;
  date: number | null;
}

/** An open invoice of a past-due subscription, and the page where the customer pays it. */
export interface UnpaidInvoice {
  invoice_id: string;
  /** What is left to pay (Stripe's `amount_remaining`), integer cents. */
  amount_due: number;
  currency: string;
  hosted_invoice_url: string | null;
}

export interface SubscriptionView {
  user_id: string;
  subscription_id: string;
  tier: string | null;
  billing_cycle: BillingCycle | null;
  status: (typeof subscriptions.$inferSelect)["status"];
  trial_end: number | null;
  current_period_start: number | null;
  current_period_end: number | null;
  cancel_at_period_end: boolean;
  cancel_at: number | null;
  paused: boolean;
  /** Access is suspended over an unpaid invoice (dunning): paying `unpaid_invoice` restores it. */
  suspended: boolean;
  unpaid_invoice: UnpaidInvoice | null;
  pending_change: PendingChange | null;
  discount: Discount | null;
  next_invoice: NextInvoice | null;
}

type SubRow = typeof subscriptions.$inferSelect;

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** The subscription the entitlement points to, else the newest one not canceled; null when none. */
export async function currentSubscription(db: Db, userId: string): Promise<SubRow | null> {
  const { subscriptionId } = await readEntitlement(db, userId);
  if (subscriptionId) {
    const row = await db.select().from(subscriptions).where(eq(subscriptions.id, subscriptionId)).get();
    if (row && (row.userId === null || row.userId === userId)) return row;
  }
  const newest = await db
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.userId, userId), ne(subscriptions.status, "canceled")))
    .orderBy(desc(subscriptions.createdAt), desc(subscriptions.id))
    .limit(1)
    .get();
  return newest ?? null;
}

/** The view's fields the mirror's row holds: the GET route and the outbound subscription events both start from them. */
export function mirroredFields(row: SubRow, userId: string) {
  return {
    user_id: userId,
    subscription_id: row.id,
    tier: row.tier,
    billing_cycle: billingCycle(row.interval, row.intervalCount),
    status: row.status,
    trial_end: seconds(row.trialEnd),
    current_period_start: seconds(row.currentPeriodStart),
    current_period_end: seconds(row.currentPeriodEnd),
    cancel_at_period_end: row.cancelAtPeriodEnd,
  } satisfies Partial<SubscriptionView>;
}

export async function subscriptionView(deps: Pick<Services, "db" | "stripe">, userId: string): Promise<SubscriptionView> {
  const row = await currentSubscription(deps.db, userId);
  if (!row) throw new DomainError("not_found", `The user ${userId} has no subscription.`, { errors: [{ field: "user_id", message: "no subscription for this user" }] });
  const sub = await deps.stripe.subscriptions.retrieve(row.id, { expand: ["discounts"] });
  const [discount, pendingChange, nextInvoice, unpaid, entitlement] = await Promise.all([
    discountOf(deps.stripe, sub),
    pendingChangeOf(deps.stripe, sub, row.priceId),
    row.status === "canceled" || sub.status === "canceled" ? Promise.resolve(null) : nextInvoiceOf(deps.stripe, row.id),
    sub.status === "past_due" || sub.status === "unpaid" ? unpaidInvoiceOf(deps.stripe, row.id) : Promise.resolve(null),
    readEntitlement(deps.db, userId),
  ]);
  return {
    ...mirroredFields(row, userId),
    cancel_at: sub.cancel_at ?? null,
    paused: sub.pause_collection != null,
    // The stored decision (the dunning tick's, or the minute cron's for a lapsed grace), for this subscription only.
    suspended: entitlement.status === "suspended" && entitlement.subscriptionId === row.id && unpaid !== null,
    unpaid_invoice: unpaid,
    pending_change: pendingChange,
    discount,
    next_invoice: nextInvoice,
  };
}

async function discountOf(stripe: Stripe, sub: Stripe.Subscription): Promise<Discount | null> {
  const first = sub.discounts[0];
  if (!first) return null;
  const d = typeof first === "string" ? null : first;
  const ref = d?.source?.coupon ?? null;
  if (!ref) return null;
  const coupon = typeof ref === "string" ? await stripe.coupons.retrieve(ref) : ref;
  return { coupon_id: coupon.id, percent_off: coupon.percent_off ?? null, amount_off: coupon.amount_off ?? null, ends_at: d?.end ?? null };
}

/** The next phase of the subscription's schedule, when its price differs from the current one. */
async function pendingChangeOf(stripe: Stripe, sub: Stripe.Subscription, currentPriceId: string): Promise<PendingChange | null> {
  const next = await pendingPhase(stripe, sub);
  if (!next?.priceId || next.priceId === currentPriceId) return null;
  const price = next.price ?? (await stripe.prices.retrieve(next.priceId));
  return {
    tier: catalogPriceOf(price)?.tier.key ?? null,
    billing_cycle: billingCycle(price.recurring?.interval, price.recurring?.interval_count ?? 1),
    effective_at: next.startsAt,
  };
}

/** The subscription's oldest open invoice at Stripe (the one dunning is about); null when none is open. */
async function unpaidInvoiceOf(stripe: Stripe, subscriptionId: string): Promise<UnpaidInvoice | null> {
  const open = (await stripe.invoices.list({ subscription: subscriptionId, status: "open", limit: 100 })).data;
  const oldest = open.reduce<Stripe.Invoice | null>((a, i) => (a === null || i.created < a.created ? i : a), null);
  if (!oldest?.id) return null;
  return { invoice_id: oldest.id, amount_due: oldest.amount_remaining, currency: oldest.currency, hosted_invoice_url: oldest.hosted_invoice_url ?? null };
}

/** Stripe's preview of the subscription's next invoice; null when Stripe says there is none. */
async function nextInvoiceOf(stripe: Stripe, subscriptionId: string): Promise<NextInvoice | null> {
  let preview: Stripe.Invoice;
  try {
    preview = await stripe.invoices.createPreview({ subscription: subscriptionId });
  } catch (e) {
    if ((e as { code?: string })?.code === "invoice_upcoming_none") return null;
    throw e;
  }
  return {
    amount_due: preview.amount_due,
    tax: (preview.total_taxes ?? []).reduce((sum, t) => sum + t.amount, 0),
    currency: preview.currency,
    date: preview.next_payment_attempt ?? preview.period_end ?? null,
  };
}
