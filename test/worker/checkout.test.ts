import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { startCheckout } from "../../worker/src/subscriptions/checkout";
import { fixedClock } from "../../worker/src/clock";
import { isDomainError } from "../../worker/src/errors";
import type { Logger } from "../../worker/src/log";
import { services } from "../../worker/src/wiring";
import { call, count, makeKey, TEST_ACTOR } from "./helpers";
import { catalogPriceIds } from "../../worker/src/subscriptions/prices";
import { catalog } from "../../worker/src/catalog";

/** Every catalog price: four per individual tier and one per agency term. */
const LOOKUP_KEYS = catalog.tiers.flatMap((t) => t.prices).length;
import { completeCheckout, deliver, eventsFor, settled, stripe, subscriber, testClock } from "./stripe-helpers";
import type { Stripe } from "../../worker/src/stripe-sync/stripe";

let key: string;
let analystKey: string;
let n = 0;
const newUser = () => `user_co_${Date.now().toString(36)}_${++n}`;

beforeAll(async () => {
  key = (await makeKey("service")).key;
  analystKey = (await makeKey("analyst")).key;
});

interface Session {
  session_id: string;
  url: string;
  trial_days: number;
}
interface Problem {
  status: number;
  code: string;
  errors?: { field: string; message: string }[];
}

async function checkout(body: Record<string, unknown>): Promise<Response> {
  return call("POST", "/v1/checkout", { key, body });
}

async function created(body: Record<string, unknown>): Promise<Session> {
  const res = await checkout(body);
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<Session>();
}

const complete = (sessionId: string) => completeCheckout(sessionId);

const quiet: Logger = { log() {}, with: () => quiet };

const customersOf = async (userId: string) => (await stripe().customers.search({ query: `metadata['user_id']:'${userId}'` })).data;

describe("POST /v1/checkout", () => {
  for (const [tier, days, amount] of [
    ["local", 7, 2900],
    ["mobile", 14, 4900],
  ] as const) {
    it(`opens a ${tier} session with the catalog's ${days}-day trial, the user on the session, the subscription and the customer, and automatic tax`, async () => {
      const userId = newUser();
      const body = await created({ user_id: userId, email: `${userId}@example.test`, tier });
      expect(body.trial_days).toBe(days);
      expect(body.url).toContain(body.session_id);

      const session = await stripe().checkout.sessions.retrieve(body.session_id);
      expect(session.mode).toBe("subscription");
      expect(session.client_reference_id).toBe(userId);
      expect(session.metadata).toEqual({ user_id: userId, tier });
      expect(session.automatic_tax.enabled).toBe(true);
      expect(session.allow_promotion_codes).toBe(true);
      expect(session.success_url).toBe("https://app.test/billing/success");
      expect(session.cancel_url).toBe("https://app.test/billing");
      const items = await stripe().checkout.sessions.listLineItems(session.id);
      expect(items.data[0]?.price?.lookup_key).toBe(`${tier}_monthly`);
      expect(items.data[0]?.price?.unit_amount).toBe(amount);

      const customer = (await stripe().customers.retrieve(session.customer as string)) as Stripe.Customer;
      expect(customer.metadata.user_id).toBe(userId);
      expect(customer.email).toBe(`${userId}@example.test`);

      // subscription_data shows on the subscription the completed session makes.
      const done = await complete(session.id);
      const sub = await stripe().subscriptions.retrieve(done.subscription as string);
      expect(sub.status).toBe("trialing");
      expect(sub.metadata).toEqual({ user_id: userId, tier });
      expect(sub.trial_end! - sub.trial_start!).toBe(days * 86_400);
      expect(sub.automatic_tax.enabled).toBe(true);
    });
  }

  it("bills annually with the catalog's yearly price when billing_cycle is annual", async () => {
    const userId = newUser();
    const body = await created({
      user_id: userId,
      email: `${userId}@example.test`,
      tier: "mobile",
      billing_cycle: "annual",
      success_url: "https://app.test/done",
      cancel_url: "https://app.test/back",
    });
    const session = await stripe().checkout.sessions.retrieve(body.session_id);
    expect((await stripe().checkout.sessions.listLineItems(session.id)).data[0]?.price?.lookup_key).toBe("mobile_annual");
    expect(session.success_url).toBe("https://app.test/done");
    expect(session.cancel_url).toBe("https://app.test/back");
  });

  it("reuses the user's Stripe customer: one customer per user id", async () => {
    const userId = newUser();
    const first = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local" });
    const second = await created({ user_id: userId, email: `${userId}@example.test`, tier: "mobile" });
    const [a, b] = await Promise.all([stripe().checkout.sessions.retrieve(first.session_id), stripe().checkout.sessions.retrieve(second.session_id)]);
    expect(a.customer).toBe(b.customer);
    expect((await customersOf(userId)).map((c) => c.id)).toEqual([a.customer]);
  });

  it("makes one customer for a user whose first two checkouts race with different emails", async () => {
    const userId = newUser();
    const [a, b] = await Promise.all([
      created({ user_id: userId, email: `${userId}@example.test`, tier: "local" }),
      created({ user_id: userId, email: `${userId}.other@example.test`, tier: "mobile" }),
    ]);
    const [sa, sb] = await Promise.all([stripe().checkout.sessions.retrieve(a.session_id), stripe().checkout.sessions.retrieve(b.session_id)]);
    expect(sa.customer).toBe(sb.customer);
    expect((await customersOf(userId)).map((c) => c.id)).toEqual([sa.customer]);
    expect([`${userId}@example.test`, `${userId}.other@example.test`]).toContain(((await stripe().customers.retrieve(sa.customer as string)) as Stripe.Customer).email);
  });

  it("refuses a test clock for a user whose customer is not on it, with 400 naming body.test_clock", async () => {
    const userId = newUser();
    const first = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local" });
    const customer = (await stripe().checkout.sessions.retrieve(first.session_id)).customer as string;
    const clock = await testClock();
    const res = await checkout({ user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: clock.id });
    expect(res.status).toBe(400);
    const problem = await res.json<Problem>();
    expect(problem.errors?.map((e) => e.field)).toEqual(["body.test_clock"]);
    expect(((await stripe().customers.retrieve(customer)) as Stripe.Customer).test_clock).toBeNull();
  });

  it("gives no second trial to a user who had a subscription (trial_days 0, no trial on the new subscription)", async () => {
    const userId = newUser();
    const first = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local" });
    const done = await complete(first.session_id);
    await stripe().subscriptions.cancel(done.subscription as string);

    const again = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local" });
    expect(again.trial_days).toBe(0);
    const sub = await stripe().subscriptions.retrieve((await complete(again.session_id)).subscription as string);
    expect(sub.trial_end).toBeNull();
    expect(sub.customer).toBe(done.customer);
  });

  it("gives no second trial when only the mirror remembers it (the old customer deleted in Stripe), and makes a new customer", async () => {
    const { userId, customer, sub } = await subscriber({ trialDays: 7 });
    await stripe().customers.del(customer.id);
    for (const event of await eventsFor([customer.id, sub.id])) {
      expect((await deliver(event)).status).toBe(200);
      expect(await settled(event.id)).toBe("processed");
    }
    expect(await env.DB.prepare("select status, trial_start from subscriptions where id = ?").bind(sub.id).first<{ status: string; trial_start: number | null }>()).toMatchObject({
      status: "canceled",
      trial_start: expect.any(Number),
    });

    const body = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local" });
    expect(body.trial_days).toBe(0);
    const session = await stripe().checkout.sessions.retrieve(body.session_id);
    expect(session.customer).not.toBe(customer.id);
  });

  it("refuses a user with a live subscription with 409, creating nothing in Stripe or D1", async () => {
    const { userId, customer } = await subscriber();
    const sessionsBefore = (await stripe().checkout.sessions.list({ customer: customer.id, limit: 100 })).data.length;
    const tables = ["audit_log", "customers", "subscriptions", "entitlements"];
    const rowsBefore = await Promise.all(tables.map(count));

    const res = await checkout({ user_id: userId, email: `${userId}@example.test`, tier: "mobile" });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await res.json<Problem>()).code).toBe("conflict");

    expect((await customersOf(userId)).map((c) => c.id)).toEqual([customer.id]);
    expect((await stripe().checkout.sessions.list({ customer: customer.id, limit: 100 })).data.length).toBe(sessionsBefore);
    expect(await Promise.all(tables.map(count))).toEqual(rowsBefore);
  });

  it("refuses an unknown, inactive or expired promotion code with 400 naming body.promotion_code, creating no customer", async () => {
    const coupon = await stripe().coupons.create({ percent_off: 10, duration: "once" });
    const inactive = await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code: `OFF${Date.now().toString(36).toUpperCase()}` });
    await stripe().promotionCodes.update(inactive.id, { active: false });
    const expired = await stripe().promotionCodes.create({
      promotion: { type: "coupon", coupon: coupon.id },
      code: `OLD${Date.now().toString(36).toUpperCase()}`,
      expires_at: Math.floor(Date.now() / 1000) - 60,
    });
    for (const code of ["NO_SUCH_CODE", inactive.code, expired.code]) {
      const userId = newUser();
      const res = await checkout({ user_id: userId, email: `${userId}@example.test`, tier: "local", promotion_code: code });
      expect(res.status, code).toBe(400);
      const problem = await res.json<Problem>();
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors?.map((e) => e.field)).toEqual(["body.promotion_code"]);
      expect(await customersOf(userId)).toEqual([]);
    }
  });

  it("applies a valid promotion code as the session's discount instead of offering the code field", async () => {
    const coupon = await stripe().coupons.create({ percent_off: 25, duration: "repeating", duration_in_months: 3 });
    const promo = await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code: `SAVE${Date.now().toString(36).toUpperCase()}` });
    const userId = newUser();
    const body = await created({ user_id: userId, email: `${userId}@example.test`, tier: "mobile", promotion_code: promo.code.toLowerCase() });
    const session = await stripe().checkout.sessions.retrieve(body.session_id);
    expect(session.discounts?.map((d) => d.promotion_code)).toEqual([promo.id]);
    expect(session.allow_promotion_codes).toBeNull();
  });

  it("puts a new customer on the given test clock", async () => {
    const clock = await testClock();
    const userId = newUser();
    const body = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: clock.id });
    const session = await stripe().checkout.sessions.retrieve(body.session_id);
    const customer = (await stripe().customers.retrieve(session.customer as string)) as Stripe.Customer;
    expect(customer.test_clock).toBe(clock.id);
  });

  it("refuses an unknown test clock with 400 naming body.test_clock", async () => {
    const userId = newUser();
    const res = await checkout({ user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: "clock_doesnotexist" });
    expect(res.status).toBe(400);
    expect((await res.json<Problem>()).errors?.map((e) => e.field)).toEqual(["body.test_clock"]);
    expect(await customersOf(userId)).toEqual([]);
  });

  it("refuses test_clock with a live Stripe key before calling Stripe", async () => {
    const live = services({ ...env, STRIPE_SECRET_KEY: "sk_live_not_a_real_key" }, fixedClock(Date.now()));
    const err = await startCheckout(live, TEST_ACTOR, { userId: newUser(), email: "a@example.test", tier: "local", testClock: "clock_abc" }).catch((e: unknown) => e);
    expect(isDomainError(err, "validation_failed")).toBe(true);
    expect((err as { details: { errors: { field: string }[] } }).details.errors.map((e) => e.field)).toEqual(["test_clock"]);
  });

  it("refuses an unknown tier or billing cycle with 400 naming the field", async () => {
    const userId = newUser();
    for (const [body, field] of [
      [{ user_id: userId, email: `${userId}@example.test`, tier: "platinum" }, "body.tier"],
      [{ user_id: userId, email: `${userId}@example.test`, tier: "local", billing_cycle: "weekly" }, "body.billing_cycle"],
    ] as const) {
      const res = await checkout(body);
      expect(res.status).toBe(400);
      expect((await res.json<Problem>()).errors?.map((e) => e.field)).toEqual([field]);
    }
    expect(await customersOf(userId)).toEqual([]);
  });
});

describe("return URLs: only the app's origins", () => {
  // The suite's APP_BASE_URL is https://app.test; ENVIRONMENT is test, so localhost is allowed too.
  for (const [field, url] of [
    ["success_url", "https://evil.test/billing/success"],
    ["cancel_url", "https://app.test.evil.test/billing"],
    // Userinfo that reads like the app's host: the origin is evil.test.
    ["success_url", "https://app.test@evil.test/billing"],
    ["cancel_url", "http://app.test/billing"],
  ] as const) {
    it(`refuses a Checkout ${field} on another origin (${url}) with 400 problem+json naming body.${field}, creating nothing in Stripe`, async () => {
      const userId = newUser();
      const res = await checkout({ user_id: userId, email: `${userId}@example.test`, tier: "local", [field]: url });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const problem = await res.json<Problem & { type: string; detail: string }>();
      expect(problem).toMatchObject({ code: "validation_failed", type: expect.stringMatching(/validation-failed$/) });
      expect(problem.errors?.map((e) => e.field)).toEqual([`body.${field}`]);
      expect(problem.detail).toContain("https://app.test");
      expect(await customersOf(userId)).toEqual([]);
    });
  }

  it("refuses a portal return_url on another origin with 400 naming body.return_url", async () => {
    const { userId } = await subscriber();
    const res = await call("POST", "/v1/portal", { key, body: { user_id: userId, return_url: "https://evil.test/billing" } });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await res.json<Problem>()).errors?.map((e) => e.field)).toEqual(["body.return_url"]);
    const ok = await call("POST", "/v1/portal", { key, body: { user_id: userId, return_url: "https://app.test/account" } });
    expect(ok.status).toBe(200);
    expect(await (await fetch((await ok.json<{ url: string }>()).url)).text()).toContain("https://app.test/account");
  });

  it("takes localhost in test and development, and refuses it in production", async () => {
    const userId = newUser();
    const body = await created({ user_id: userId, email: `${userId}@example.test`, tier: "local", success_url: "http://localhost:5173/done", cancel_url: "http://127.0.0.1:3000/billing" });
    expect((await stripe().checkout.sessions.retrieve(body.session_id)).success_url).toBe("http://localhost:5173/done");
    const production = services({ ...env, ENVIRONMENT: "production" }, fixedClock(Date.now()), { log: quiet });
    const err = await startCheckout(production, TEST_ACTOR, { userId: newUser(), email: "a@example.test", tier: "local", successUrl: "http://localhost:5173/done" }).catch((e: unknown) => e);
    expect(isDomainError(err, "validation_failed")).toBe(true);
    expect((err as { details: { errors: { field: string }[] } }).details.errors.map((e) => e.field)).toEqual(["success_url"]);
  });

  it("takes an origin listed in APP_ORIGINS", async () => {
    const withOrigins = services({ ...env, APP_ORIGINS: "https://www.app.test, https://m.app.test/" }, fixedClock(Date.now()), { log: quiet });
    const userId = newUser();
    const made = await startCheckout(withOrigins, TEST_ACTOR, {
      userId,
      email: `${userId}@example.test`,
      tier: "local",
      successUrl: "https://m.app.test/welcome",
      cancelUrl: "https://www.app.test/billing",
    });
    expect((await stripe().checkout.sessions.retrieve(made.sessionId)).success_url).toBe("https://m.app.test/welcome");
    const err = await startCheckout(withOrigins, TEST_ACTOR, { userId: newUser(), email: "a@example.test", tier: "local", successUrl: "https://evil.test/" }).catch((e: unknown) => e);
    expect(isDomainError(err, "validation_failed")).toBe(true);
  });

  it("refuses a malformed APP_ORIGINS as config_invalid naming it", async () => {
    const bad = services({ ...env, APP_ORIGINS: "app.test" }, fixedClock(Date.now()), { log: quiet });
    const err = await startCheckout(bad, TEST_ACTOR, { userId: newUser(), email: "a@example.test", tier: "local", successUrl: "https://app.test/" }).catch((e: unknown) => e);
    expect(isDomainError(err, "config_invalid")).toBe(true);
    expect((err as { details: { errors: { field: string }[] } }).details.errors.map((e) => e.field)).toEqual(["APP_ORIGINS.0"]);
  });
});

describe("POST /v1/portal", () => {
  it("gives a billing portal URL for the user's customer, returning to the app's billing page", async () => {
    const { userId, customer } = await subscriber();
    const res = await call("POST", "/v1/portal", { key, body: { user_id: userId } });
    expect(res.status).toBe(200);
    const { url } = await res.json<{ url: string }>();
    expect(url).toMatch(/\/_emulator\/portal\/bps_/);
    const page = await (await fetch(url)).text();
    expect(page).toContain("https://app.test/billing");
    expect((await customersOf(userId)).map((c) => c.id)).toEqual([customer.id]);
  });

  it("answers 404 naming body.user_id for a user without a customer", async () => {
    const res = await call("POST", "/v1/portal", { key, body: { user_id: newUser() } });
    expect(res.status).toBe(404);
    const problem = await res.json<Problem>();
    expect(problem.code).toBe("not_found");
    expect(problem.errors?.map((e) => e.field)).toEqual(["body.user_id"]);
  });
});

describe("GET /v1/promotion-codes/{code}", () => {
  it("describes an active code's coupon (200) and answers 404 for an unknown one", async () => {
    const coupon = await stripe().coupons.create({ amount_off: 500, currency: "usd", duration: "repeating", duration_in_months: 2 });
    const promo = await stripe().promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code: `FIVE${Date.now().toString(36).toUpperCase()}` });
    const res = await call("GET", `/v1/promotion-codes/${promo.code}`, { key: analystKey });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ code: promo.code, active: true, coupon: { percent_off: null, amount_off: 500, currency: "usd", duration: "repeating", duration_in_months: 2 } });

    const missing = await call("GET", "/v1/promotion-codes/NOPE_NOT_HERE", { key: analystKey });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("GET /v1/catalog", () => {
  it("gives each price its Stripe price id, found by lookup key", async () => {
    const res = await call("GET", "/v1/catalog");
    expect(res.status).toBe(200);
    const body = await res.json<{ tiers: { prices: { lookup_key: string; stripe_price_id: string | null }[] }[] }>();
    const prices = body.tiers.flatMap((t) => t.prices);
    // Monthly, annual, two- and three-year for each tier.
    expect(prices.map((p) => p.lookup_key).sort()).toEqual(
      ["local_monthly", "local_annual", "local_two_year", "local_three_year", "mobile_monthly", "mobile_annual", "mobile_two_year", "mobile_three_year"].sort(),
    );
    const stripePrices = await stripe().prices.list({ lookup_keys: prices.map((p) => p.lookup_key), limit: 10 });
    for (const p of prices) expect(p.stripe_price_id, p.lookup_key).toBe(stripePrices.data.find((s) => s.lookup_key === p.lookup_key)?.id);
  });

  it("resolves the agency's seat prices by lookup key but offers a person only the individual tiers", async () => {
    const ids = await catalogPriceIds(services(env, fixedClock(Date.now()), { log: quiet }));
    expect(LOOKUP_KEYS).toBe(11);
    for (const key of ["agency_seat_annual", "agency_seat_two_year", "agency_seat_three_year"]) expect(ids.get(key), key).toMatch(/^price_/);
    const body = await (await call("GET", "/v1/catalog")).json<{ tiers: { key: string }[] }>();
    expect(body.tiers.map((t) => t.key)).toEqual(["local", "mobile"]);
    const { key } = await makeKey("service");
    const res = await call("POST", "/v1/checkout", { key, body: { user_id: newUser(), email: "a@example.com", tier: "agency" } });
    expect(res.status).toBe(400);
    expect((await res.json<{ errors: { field: string }[] }>()).errors.map((e) => e.field)).toEqual(["body.tier"]);
  });

  it("keeps working without Stripe: every price id is null when STRIPE_SECRET_KEY is unset", async () => {
    const { STRIPE_SECRET_KEY: _unset, ...withoutStripe } = env;
    const ids = await catalogPriceIds(services(withoutStripe as typeof env, fixedClock(Date.now()), { log: quiet }));
    expect([...ids.values()]).toEqual(Array(LOOKUP_KEYS).fill(null));
  });

  it("keeps working when Stripe does not answer: null price ids, and Stripe is left alone for a while", async () => {
    const down = services({ ...env, STRIPE_API_BASE: "http://127.0.0.1:9" }, fixedClock(Date.now()), { log: quiet });
    expect([...(await catalogPriceIds(down)).values()]).toEqual(Array(LOOKUP_KEYS).fill(null));
    const started = Date.now();
    expect([...(await catalogPriceIds(down)).values()]).toEqual(Array(LOOKUP_KEYS).fill(null));
    expect(Date.now() - started).toBeLessThan(100);
  });
});
