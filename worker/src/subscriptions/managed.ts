/**
 * What every change to a user's subscription starts and ends with: the subscription as Stripe has
 * it now (the mirror may lag), the rules that refuse a change before anything is written, and
 * the sync that records the result — mirror rows, entitlement and the request's audit entry in
 * one D1 batch, so the change and the access it gives land together.
 */
import type { Actor, AuditEntry } from "../audit";
import { catalogPriceOf, type BillingCycle, type Tier } from "../catalog";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { findCustomer } from "./checkout";
import { billingCycle } from "./cycle";
import { idOf, emptyTargets, syncObjects, type Extra, type Stripe } from "../stripe-sync";
import { currentSubscription } from "./subscription-view";

export type ManageDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

export interface Managed {
  userId: string;
  sub: Stripe.Subscription;
  item: Stripe.SubscriptionItem;
  /** The catalog tier the subscription is on (null for a price outside the catalog). */
  tier: Tier | null;
  cycle: BillingCycle | null;
  /** Stripe's "now" for this subscription, unix seconds: its test clock's time, else the clock's. */
  now: number;
}

const ENDED = new Set<Stripe.Subscription.Status>(["canceled", "incomplete_expired"]);

const notFound = (userId: string) =>
  new DomainError("not_found", `The user ${userId} has no subscription; start one with POST /v1/checkout.`, { errors: [{ field: "user_id", message: "no subscription for this user" }] });

/**
 * The mirror's current subscription, else — right after Checkout, before its webhooks are
 * processed — the newest live one Stripe has for the user's customer.
 */
async function subscriptionOf(deps: Pick<Services, "db" | "stripe">, userId: string): Promise<Stripe.Subscription | null> {
  const row = await currentSubscription(deps.db, userId);
  if (row) return deps.stripe.subscriptions.retrieve(row.id);
  const customer = await findCustomer(deps, userId);
  if (!customer) return null;
  const subs = await deps.stripe.subscriptions.list({ customer: customer.id, status: "all", limit: 20 });
  return subs.data.filter((s) => !ENDED.has(s.status)).sort((a, b) => b.created - a.created)[0] ?? null;
}

/** The user's current subscription, fetched from Stripe; not_found when there is none or it has ended. */
export async function managedSubscription(deps: Pick<Services, "db" | "stripe" | "clock">, userId: string): Promise<Managed> {
  const sub = await subscriptionOf(deps, userId);
  if (!sub || ENDED.has(sub.status)) throw notFound(userId);
  const item = sub.items.data[0];
  if (!item) throw new DomainError("upstream_unavailable", `Stripe returned the subscription ${sub.id} without items.`);
  const found = catalogPriceOf(item.price);
  const clockId = idOf(sub.test_clock);
  const now = clockId ? (await deps.stripe.testHelpers.testClocks.retrieve(clockId)).frozen_time : Math.floor(deps.clock.now() / 1000);
  return { userId, sub, item, tier: found?.tier ?? null, cycle: billingCycle(item.price.recurring?.interval, item.price.recurring?.interval_count ?? 1), now };
}

/** "Pay first": a subscription with an unpaid invoice changes only once that invoice is paid. */
export function requirePaidUp(m: Managed): void {
  if (m.sub.status === "past_due" || m.sub.status === "unpaid" || m.sub.status === "incomplete") {
    throw new DomainError("payment_past_due", `The subscription of ${m.userId} has an unpaid invoice; pay it first (the billing portal, POST /v1/portal, takes a new card).`, {
      errors: [{ field: "user_id", message: "an invoice of this subscription is past due" }],
      extensions: { latest_invoice: idOf(m.sub.latest_invoice) },
    });
  }
}

/** A plan change needs a subscription that renews and collects: not one ending or paused. */
export function requireRenewing(m: Managed): void {
  if (m.sub.cancel_at_period_end || m.sub.cancel_at !== null) {
    throw new DomainError("conflict", `The subscription of ${m.userId} is set to cancel; reactivate it first (POST /v1/subscriptions/${m.userId}/reactivate).`, {
      errors: [{ field: "user_id", message: "the subscription is set to cancel" }],
    });
  }
  if (m.sub.pause_collection) {
    throw new DomainError("conflict", `Payment collection of ${m.userId}'s subscription is paused; resume it first (POST /v1/subscriptions/${m.userId}/resume).`, {
      errors: [{ field: "user_id", message: "the subscription is paused" }],
    });
  }
}

/**
 * Brings the mirror and the user's entitlement to what Stripe has after a change, with the
 * request's own audit entry, in one batch. `invoiceIds` are invoices the change made (an
 * upgrade's charge) so their state is mirrored at once too.
 */
export async function recordChange(
  deps: ManageDeps,
  who: Actor,
  m: Pick<Managed, "userId" | "sub" | "now">,
  entry: { action: string; before?: unknown; after: unknown },
  options: { invoiceIds?: (string | null)[]; statements?: Extra["statements"] } = {},
): Promise<void> {
  const targets = emptyTargets();
  targets.subscriptions.add(m.sub.id);
  for (const id of options.invoiceIds ?? []) if (id) targets.invoices.add(id);
  const audit: AuditEntry = { actor: who, action: entry.action, subject: { type: "user", id: m.userId }, before: entry.before, after: entry.after };
  await syncObjects(deps, { actor: who, cause: entry.action, at: m.now * 1000 }, targets, { entries: [audit], ...(options.statements ? { statements: options.statements } : {}) });
}
