/**
 * What provisioning an account needs (`npm run stripe:setup`): prices moved by lookup key,
 * webhook endpoints that keep their API version and send only their events, billing portal
 * configurations, Stripe Tax settings, and the count of requests served.
 */
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { jsonOf, receiver, start, type Harness } from "./helpers.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function harness(): Promise<Harness> {
  const h = await start();
  cleanups.push(() => h.stop());
  return h;
}

describe("prices by lookup key", () => {
  it("transfer_lookup_key moves the key to the new price, and the old one can be archived", async () => {
    const { stripe } = await harness();
    const product = await stripe.products.create({ name: "Local" });
    const old = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 2900, recurring: { interval: "month" }, lookup_key: "local_monthly" });
    await expect(stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 3500, recurring: { interval: "month" }, lookup_key: "local_monthly" })).rejects.toMatchObject({
      code: "lookup_key_already_exists",
    });
    const moved = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 3500, recurring: { interval: "month" }, lookup_key: "local_monthly", transfer_lookup_key: true });
    const archived = await stripe.prices.update(old.id, { active: false });
    expect(archived).toMatchObject({ active: false, lookup_key: null, unit_amount: 2900 });
    const found = await stripe.prices.list({ lookup_keys: ["local_monthly"] });
    expect(found.data.map((p) => [p.id, p.unit_amount])).toEqual([[moved.id, 3500]]);
    expect((await stripe.prices.list({ active: false })).data.map((p) => p.id)).toEqual([old.id]);
  });

  it("a subscription on a price shows the price as it is now, after its key moved and it was archived", async () => {
    const { stripe } = await harness();
    const product = await stripe.products.create({ name: "Local" });
    const old = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 2900, recurring: { interval: "month" }, lookup_key: "local_monthly" });
    const customer = await stripe.customers.create({});
    const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: old.id }], default_payment_method: pm.id });
    expect(sub.items.data[0]?.price.lookup_key).toBe("local_monthly");
    await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 3500, recurring: { interval: "month" }, lookup_key: "local_monthly", transfer_lookup_key: true });
    await stripe.prices.update(old.id, { active: false });
    const now = await stripe.subscriptions.retrieve(sub.id);
    expect(now.items.data[0]?.price).toMatchObject({ id: old.id, lookup_key: null, active: false, unit_amount: 2900 });
  });
});

describe("webhook endpoints", () => {
  it("keep the api_version they were created with, and null when none was given", async () => {
    const { stripe } = await harness();
    const pinned = await stripe.webhookEndpoints.create({ url: "https://example.com/webhooks/stripe", enabled_events: ["invoice.paid"], api_version: "2026-10-28.endive" });
    const unpinned = await stripe.webhookEndpoints.create({ url: "https://example.com/other", enabled_events: ["invoice.paid"] });
    expect((await stripe.webhookEndpoints.retrieve(pinned.id)).api_version).toBe("2026-10-28.endive");
    expect((await stripe.webhookEndpoints.retrieve(unpinned.id)).api_version).toBeNull();
    const listed = await stripe.webhookEndpoints.list();
    expect(Object.fromEntries(listed.data.map((e) => [e.id, e.api_version]))).toEqual({ [pinned.id]: "2026-10-28.endive", [unpinned.id]: null });
    await expect(
      stripe.webhookEndpoints.create({ url: "https://example.com/x", enabled_events: ["invoice.paid"], api_version: "yesterday" as Stripe.WebhookEndpointCreateParams.ApiVersion }),
    ).rejects.toMatchObject({
      param: "api_version",
    });
  });

  it("deliver only their enabled_events, also after an update changes them", async () => {
    const h = await harness();
    const rx = await receiver();
    cleanups.push(() => rx.close());
    const endpoint = await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["customer.created"] });
    await h.stripe.customers.create({});
    await h.stripe.products.create({ name: "P" });
    await h.em.idle();
    await h.stripe.webhookEndpoints.update(endpoint.id, { enabled_events: ["product.created"] });
    await h.stripe.customers.create({});
    await h.stripe.products.create({ name: "Q" });
    await h.em.idle();
    expect(rx.received.map((r) => JSON.parse(r.body).type)).toEqual(["customer.created", "product.created"]);
  });
});

describe("billing portal configurations", () => {
  it("the account has one default configuration, which sessions use unless given another", async () => {
    const { stripe } = await harness();
    const defaults = await stripe.billingPortal.configurations.list({ is_default: true });
    expect(defaults.data).toHaveLength(1);
    const config = defaults.data[0]!;
    expect(config).toMatchObject({ object: "billing_portal.configuration", is_default: true, active: true });
    expect(config.features.payment_method_update.enabled).toBe(true);
    const customer = await stripe.customers.create({});
    expect((await stripe.billingPortal.sessions.create({ customer: customer.id })).configuration).toBe(config.id);
  });

  it("creates, retrieves, updates and lists configurations with features, business profile and return URL", async () => {
    const { stripe } = await harness();
    const product = await stripe.products.create({ name: "Local" });
    const price = await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 2900, recurring: { interval: "month" } });
    const created = await stripe.billingPortal.configurations.create({
      features: {
        payment_method_update: { enabled: true },
        invoice_history: { enabled: true },
        customer_update: { enabled: true, allowed_updates: ["address"] },
        subscription_cancel: { enabled: false },
        subscription_update: { enabled: true, default_allowed_updates: ["price"], products: [{ product: product.id, prices: [price.id] }], proration_behavior: "always_invoice" },
      },
      business_profile: { headline: "Federal Job Advisor", privacy_policy_url: "https://example.com/privacy" },
      default_return_url: "https://example.com/billing",
      metadata: { managed_by: "test" },
    });
    expect(created).toMatchObject({
      is_default: false,
      active: true,
      default_return_url: "https://example.com/billing",
      business_profile: { headline: "Federal Job Advisor", privacy_policy_url: "https://example.com/privacy", terms_of_service_url: null },
      metadata: { managed_by: "test" },
    });
    expect(created.features.customer_update).toEqual({ enabled: true, allowed_updates: ["address"] });
    expect(created.features.subscription_update).toMatchObject({
      enabled: true,
      default_allowed_updates: ["price"],
      proration_behavior: "always_invoice",
      products: [{ product: product.id, prices: [price.id] }],
    });
    expect(created.features.subscription_cancel.enabled).toBe(false);

    const updated = await stripe.billingPortal.configurations.update(created.id, { features: { subscription_update: { enabled: false } }, default_return_url: "", active: false });
    expect(updated).toMatchObject({ active: false, default_return_url: null });
    expect(updated.features.subscription_update.enabled).toBe(false);
    expect(updated.features.invoice_history.enabled).toBe(true);
    expect(await stripe.billingPortal.configurations.retrieve(created.id)).toEqual(updated);
    expect((await stripe.billingPortal.configurations.list({ active: false })).data.map((c) => c.id)).toEqual([created.id]);
    const customer = await stripe.customers.create({});
    await expect(stripe.billingPortal.sessions.create({ customer: customer.id, configuration: created.id })).rejects.toMatchObject({ param: "configuration" });
  });

  it("refuses what Stripe refuses, and a refused update changes nothing", async () => {
    const { stripe } = await harness();
    const [config] = (await stripe.billingPortal.configurations.list({ is_default: true })).data;
    await expect(stripe.billingPortal.configurations.update(config!.id, { features: { subscription_update: { enabled: true } } })).rejects.toMatchObject({
      param: "features[subscription_update][default_allowed_updates]",
    });
    await expect(stripe.billingPortal.configurations.update(config!.id, { active: false })).rejects.toMatchObject({ param: "active" });
    await expect(
      stripe.billingPortal.configurations.create({
        features: { subscription_update: { enabled: true, default_allowed_updates: ["price"], products: [{ product: "prod_nope", prices: ["price_nope"] }] } },
      }),
    ).rejects.toMatchObject({
      code: "resource_missing",
    });
    expect(await stripe.billingPortal.configurations.retrieve(config!.id)).toEqual(config);
  });

  it("the portal page offers cancellation only when the configuration does", async () => {
    const h = await harness();
    const customer = await h.stripe.customers.create({});
    const product = await h.stripe.products.create({ name: "Local" });
    const price = await h.stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 2900, recurring: { interval: "month" } });
    const pm = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], default_payment_method: pm.id });
    const [config] = (await h.stripe.billingPortal.configurations.list({ is_default: true })).data;
    const before = await h.stripe.billingPortal.sessions.create({ customer: customer.id });
    expect(await (await fetch(before.url)).text()).toContain("Cancel at period end");
    await h.stripe.billingPortal.configurations.update(config!.id, { features: { subscription_cancel: { enabled: false } } });
    const after = await h.stripe.billingPortal.sessions.create({ customer: customer.id });
    expect(await (await fetch(after.url)).text()).not.toContain("Cancel at period end");
    const post = await fetch(`${after.url}/subscriptions/${sub.id}`, { method: "POST", body: new URLSearchParams({ cancel_at_period_end: "true" }), redirect: "manual" });
    expect(post.status).toBe(403);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).cancel_at_period_end).toBe(false);
  });
});

describe("Stripe Tax settings", () => {
  it("are pending until the head office and the default tax code are set, then active", async () => {
    const { stripe } = await harness();
    const fresh = await stripe.tax.settings.retrieve();
    expect(fresh).toMatchObject({ object: "tax.settings", status: "pending", head_office: null, status_details: { pending: { missing_fields: ["head_office", "defaults.tax_code"] } } });
    const half = await stripe.tax.settings.update({ head_office: { address: { country: "us", state: "CA", postal_code: "94105" } } });
    expect(half).toMatchObject({ status: "pending", head_office: { address: { country: "US", state: "CA" } }, status_details: { pending: { missing_fields: ["defaults.tax_code"] } } });
    const done = await stripe.tax.settings.update({ defaults: { tax_code: "txcd_10103001", tax_behavior: "exclusive" } });
    expect(done).toMatchObject({ status: "active", status_details: { active: {} }, defaults: { tax_code: "txcd_10103001", tax_behavior: "exclusive", provider: "stripe" } });
    expect(await stripe.tax.settings.retrieve()).toEqual(done);
    await expect(stripe.tax.settings.update({ defaults: { tax_code: "software" } })).rejects.toMatchObject({ param: "defaults[tax_code]" });
  });
});

describe("request count", () => {
  it("counts the API requests served by method, over HTTP and in process", async () => {
    const h = await harness();
    await h.stripe.customers.create({});
    await h.stripe.customers.list();
    await h.stripe.customers.list();
    const c = await h.stripe.customers.create({});
    await h.stripe.customers.del(c.id);
    const counts: { total: number; by_method: Record<string, number> } = await jsonOf(await fetch(`${h.em.url}/_emulator/requests`));
    expect(counts).toEqual({ total: 5, by_method: { DELETE: 1, GET: 2, POST: 2 } });
    expect(h.em.requests()).toEqual({ DELETE: 1, GET: 2, POST: 2 });
  });
});
