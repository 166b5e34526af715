/**
 * What the lifecycle tests share: a subscriber made through the worker's Checkout on a test clock
 * of their own, the API called with a service key, Stripe's proration and tax arithmetic, and a
 * snapshot of everything a refused request must leave as it was.
 */
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { expect } from "vitest";
import type { SubscriptionWire as SubscriptionView } from "../../worker/src/presenters/subscription";
import { entitlements, subscriptions } from "../../worker/src/db/schema";
import type { BillingCycle } from "../../worker/src/catalog";
import { call, count, makeKey } from "./helpers";
import { completeCheckout, db, deliverAll, stripe, testClock } from "./stripe-helpers";

export const DAY = 86_400;
export const tax = (cents: number) => Math.floor((2 * cents * 725 + 10_000) / 20_000);
/** Stripe's proration of one line: amount × remaining / period, rounded half away from zero. */
export const prorate = (amount: number, remaining: number, period: number) => Math.sign(amount) * Math.floor((2 * Math.abs(amount) * remaining + period) / (2 * period));

let service: string;
let analyst: string;
let n = 0;
/** Call in each file's beforeAll: the keys the helpers call the API with. */
export async function makeKeys(): Promise<void> {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
}

export const post = (path: string, body?: unknown) => call("POST", path, { key: service, ...(body === undefined ? {} : { body }) });

export async function ok<T>(res: Response): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<T>();
}

export async function expectProblem(res: Response, status: number, code: string, field?: string) {
  expect(res.status, await res.clone().text()).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = await res.json<{ type: string; code: string; detail: string; errors?: { field: string }[] }>();
  expect(body.code).toBe(code);
  expect(body.type).toBe(`https://federaljobadvisor.com/problems/${code.replaceAll("_", "-")}`);
  expect(body.detail.length).toBeGreaterThan(10);
  if (field) expect(body.errors?.map((e) => e.field)).toContain(field);
  return body;
}

export const view = async (userId: string) => ok<SubscriptionView>(await call("GET", `/v1/subscriptions/${userId}`, { key: analyst }));
export const entitlementOf = (userId: string) => db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();

export async function claimsOf(userId: string) {
  const { token } = await ok<{ token: string }>(await post("/v1/entitlements/token", { user_id: userId }));
  return decodeJwt(token) as { tier: string | null; status: string; features: string[] };
}

/** Everything a rejected request must leave as it was: Stripe's subscription and the user's D1 rows. */
export async function snapshot(userId: string, subId: string) {
  const sub = await stripe().subscriptions.retrieve(subId);
  return {
    stripe: {
      price: sub.items.data[0]!.price.id,
      cancel_at_period_end: sub.cancel_at_period_end,
      cancel_at: sub.cancel_at,
      schedule: sub.schedule,
      pause: sub.pause_collection,
      discounts: sub.discounts,
      latest_invoice: sub.latest_invoice,
    },
    invoices: (await stripe().invoices.list({ subscription: subId, limit: 100 })).data.length,
    mirror: await db().select().from(subscriptions).where(eq(subscriptions.id, subId)).get(),
    entitlement: await entitlementOf(userId),
    audit: await count("audit_log"),
    offers: await count("retention_offers"),
    requests: await count("cancellation_requests"),
  };
}

export interface Subscriber {
  userId: string;
  clock: Awaited<ReturnType<typeof testClock>>;
  customer: string;
  sub: string;
  seen: Set<string>;
  sync(): Promise<void>;
}

/** A user who subscribed through the worker's Checkout on a fresh test clock (trialing, not yet delivered). */
export async function trialing(tier: "local" | "mobile", opts: { cycle?: BillingCycle; card?: string; promotionCode?: string } = {}): Promise<Subscriber & { trialDays: number }> {
  const clock = await testClock();
  const userId = `user_lc_${Date.now().toString(36)}_${++n}`;
  const res = await post("/v1/checkout", {
    user_id: userId,
    email: `${userId}@example.test`,
    tier,
    test_clock: clock.id,
    ...(opts.cycle ? { billing_cycle: opts.cycle } : {}),
    ...(opts.promotionCode ? { promotion_code: opts.promotionCode } : {}),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const session = await res.json<{ session_id: string; trial_days: number }>();
  const done = await completeCheckout(session.session_id, opts.card);
  const customer = done.customer as string;
  const sub = done.subscription as string;
  const seen = new Set<string>();
  const s: Subscriber & { trialDays: number } = {
    userId,
    clock,
    customer,
    sub,
    seen,
    trialDays: session.trial_days,
    async sync() {
      await deliverAll({ customer, sub }, seen);
    },
  };
  await s.sync();
  return s;
}

/** A subscriber whose trial has converted: day 0 of the first paid period. */
export async function paying(tier: "local" | "mobile", opts: { cycle?: BillingCycle } = {}): Promise<Subscriber> {
  const s = await trialing(tier, opts);
  // Past the trial's end and the hour Stripe waits before it finalizes and charges the invoice.
  await s.clock.advanceDays(s.trialDays + 0.1);
  await s.sync();
  expect((await stripe().subscriptions.retrieve(s.sub)).status).toBe("active");
  return s;
}

/** Makes a declining card what Stripe charges for the subscriber: the customer's and the subscription's default. */
export async function useDecliningCard(s: Pick<Subscriber, "customer" | "sub">): Promise<void> {
  const declining = await stripe().paymentMethods.attach("pm_card_chargeCustomerFail", { customer: s.customer });
  await stripe().customers.update(s.customer, { invoice_settings: { default_payment_method: declining.id } });
  await stripe().subscriptions.update(s.sub, { default_payment_method: declining.id });
}

export const period = async (subId: string) => {
  const item = (await stripe().subscriptions.retrieve(subId)).items.data[0]!;
  return { start: item.current_period_start, end: item.current_period_end };
};
