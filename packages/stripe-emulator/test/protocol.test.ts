import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, jsonOf, start, type Harness } from "./helpers.ts";

let h: Harness;
beforeAll(async () => {
  h = await start();
});
afterAll(async () => {
  await h.stop();
});

async function stateSnapshot(): Promise<string> {
  const res = await fetch(`${h.em.url}/_emulator/state`);
  const body: { state: { customers: unknown; subscriptions: unknown; prices: unknown; events: unknown } } = await jsonOf(res);
  return JSON.stringify([body.state.customers, body.state.subscriptions, body.state.prices, body.state.events]);
}

describe("protocol: happy path", () => {
  it("creates, retrieves, updates and lists customers with bracket-encoded metadata and address", async () => {
    const c = await h.stripe.customers.create({ email: "a@example.com", metadata: { user_id: "u_1" }, address: { country: "US", state: "CA", postal_code: "94107" } });
    expect(c.id).toMatch(/^cus_/);
    expect(c.metadata).toEqual({ user_id: "u_1" });
    expect(c.address?.state).toBe("CA");
    const u = await h.stripe.customers.update(c.id, { metadata: { tier: "local", user_id: "" } });
    expect(u.metadata).toEqual({ tier: "local" });
    const got = await h.stripe.customers.retrieve(c.id);
    expect(got.deleted).toBeUndefined();
  });

  it("paginates lists with limit/starting_after/ending_before and auto-pagination", async () => {
    for (let i = 0; i < 25; i++) await h.stripe.customers.create({ email: `page${i}@example.com` });
    const first = await h.stripe.customers.list({ limit: 10 });
    expect(first.data).toHaveLength(10);
    expect(first.has_more).toBe(true);
    expect(first.url).toBe("/v1/customers");
    const second = await h.stripe.customers.list({ limit: 10, starting_after: first.data[9]?.id });
    expect(second.data[0]?.id).not.toBe(first.data[9]?.id);
    const back = await h.stripe.customers.list({ limit: 10, ending_before: second.data[0]?.id });
    expect(back.data.map((c) => c.id)).toEqual(first.data.map((c) => c.id));
    const all: string[] = [];
    for await (const c of h.stripe.customers.list({ limit: 100 })) all.push(c.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(26);
  });

  it("filters prices by lookup_keys[] and expands data.product", async () => {
    await catalog(h.stripe);
    const prices = await h.stripe.prices.list({ lookup_keys: ["local_monthly", "mobile_monthly"], expand: ["data.product"] });
    expect(prices.data.map((p) => p.unit_amount).sort()).toEqual([2900, 4900]);
    const product = prices.data[0]?.product;
    expect(typeof product === "object" && product !== null && "name" in product ? product.name : null).toBe("Federal Job Advisor");
  });

  it("accepts a Stripe-Version header and answers with a request id", async () => {
    const res = await fetch(`${h.em.url}/v1/customers?limit=1`, { headers: { authorization: `Bearer ${h.em.secretKey}`, "stripe-version": "2026-10-28.endive" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
  });
});

describe("protocol: errors", () => {
  it("rejects an unknown parameter naming it, and changes nothing", async () => {
    const before = await stateSnapshot();
    const err = await h.stripe.customers.create({ email: "x@example.com", nickname: "x" } as Stripe.CustomerCreateParams).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    if (err instanceof Stripe.errors.StripeError) {
      expect(err.statusCode).toBe(400);
      expect(err.param).toBe("nickname");
      expect(err.code).toBe("parameter_unknown");
    }
    expect(await stateSnapshot()).toBe(before);
  });

  it("rejects a missing required parameter (nested) naming its path", async () => {
    const c = await h.stripe.customers.create({});
    const before = await stateSnapshot();
    const err = await h.stripe.subscriptions.create({ customer: c.id, items: [{ quantity: 1 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    if (err instanceof Stripe.errors.StripeError) expect(err.param).toBe("items[0][price]");
    expect(await stateSnapshot()).toBe(before);
  });

  it("rejects a wrongly typed parameter", async () => {
    const { local } = await catalog(h.stripe).catch(async () => ({ local: (await h.stripe.prices.list({ lookup_keys: ["local_monthly"] })).data[0] }));
    const c = await h.stripe.customers.create({});
    const before = await stateSnapshot();
    const res = await fetch(`${h.em.url}/v1/subscriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.em.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: `customer=${c.id}&items[0][price]=${local?.id}&trial_period_days=seven`,
    });
    expect(res.status).toBe(400);
    const body: { error: { type: string; param: string; message: string } } = await jsonOf(res);
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.param).toBe("trial_period_days");
    expect(await stateSnapshot()).toBe(before);
  });

  it("answers an unknown id with 404 resource_missing", async () => {
    const err = await h.stripe.customers.retrieve("cus_doesnotexist").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    if (err instanceof Stripe.errors.StripeError) {
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe("resource_missing");
      expect(err.param).toBe("id");
    }
    const err2 = await h.stripe.subscriptions.create({ customer: "cus_nope", items: [{ price: "price_nope" }] }).catch((e: unknown) => e);
    if (err2 instanceof Stripe.errors.StripeError) {
      expect(err2.statusCode).toBe(404);
      expect(err2.param).toBe("customer");
    } else throw new Error("expected an error");
  });

  it("rejects an expansion of a non-expandable field", async () => {
    const c = await h.stripe.customers.create({});
    const err = await h.stripe.customers.retrieve(c.id, { expand: ["nonexistent"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });
});

describe("protocol: idempotency", () => {
  it("replays the same response for the same key and body", async () => {
    const a = await h.stripe.customers.create({ email: "idem@example.com" }, { idempotencyKey: "key-1" });
    const b = await h.stripe.customers.create({ email: "idem@example.com" }, { idempotencyKey: "key-1" });
    expect(b.id).toBe(a.id);
    const list = await h.stripe.customers.list({ email: "idem@example.com" });
    expect(list.data).toHaveLength(1);
  });

  it("rejects the same key with another body with idempotency_error", async () => {
    await h.stripe.customers.create({ email: "idem2@example.com" }, { idempotencyKey: "key-2" });
    const err = await h.stripe.customers.create({ email: "other@example.com" }, { idempotencyKey: "key-2" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((await h.stripe.customers.list({ email: "other@example.com" })).data).toHaveLength(0);
  });
});

describe("protocol: security", () => {
  it("rejects a request without an API key with 401 authentication_error", async () => {
    const res = await fetch(`${h.em.url}/v1/customers`);
    expect(res.status).toBe(401);
    const body: { error: { type: string } } = await jsonOf(res);
    expect(body.error.type).toBe("authentication_error");
  });

  it("rejects a wrong key through the official client", async () => {
    const bad = new Stripe("rk_live_wrong", { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: h.em.port, protocol: "http" });
    await expect(bad.customers.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it("requires the configured key when one is set", async () => {
    const other = await start({ secretKey: "sk_test_only_this" });
    try {
      const wrong = new Stripe("sk_test_other", { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: other.em.port, protocol: "http" });
      await expect(wrong.customers.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      await expect(other.stripe.customers.list()).resolves.toBeTruthy();
    } finally {
      await other.stop();
    }
  });
});
