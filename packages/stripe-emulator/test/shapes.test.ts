import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, start, type Harness } from "./helpers.ts";

/**
 * Shape check against Stripe's own example objects (../shared/stripe/fixtures3.json, from
 * stripe/openapi). Rule: every top-level key of Stripe's fixture must be present in ours, and
 * its JSON type (string/number/boolean/object/array) must match — except that null is
 * accepted where the fixture shows a value (fixtures fill nullable fields), and any type is
 * accepted where the fixture shows null (it tells us nothing about the type). Keys the fixture
 * has but stripe@23's TypeScript types do not declare are listed in NOT_IN_TYPES and skipped:
 * tsc already forbids the emulator from sending fields the types lack.
 */
const FIXTURES = fileURLToPath(new URL("../../../../shared/stripe/fixtures3.json", import.meta.url));
const present = existsSync(FIXTURES);

const NOT_IN_TYPES: Record<string, string[]> = {
  invoice: ["subscription"],
  customer: [],
};

type JsonType = "null" | "array" | "object" | "string" | "number" | "boolean";
function typeOf(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  const t = typeof v;
  return t === "object" ? "object" : t === "string" ? "string" : t === "number" ? "number" : "boolean";
}

function mismatches(resource: string, ours: unknown, fixtures: Record<string, unknown>): string[] {
  const fixture = fixtures[resource];
  if (typeof fixture !== "object" || fixture === null) return [`no fixture for ${resource}`];
  if (typeof ours !== "object" || ours === null) return [`${resource}: not an object`];
  const out: string[] = [];
  const skip = NOT_IN_TYPES[resource] ?? [];
  for (const [key, expected] of Object.entries(fixture)) {
    if (skip.includes(key)) continue;
    if (!(key in ours)) {
      out.push(`${resource}.${key}: missing`);
      continue;
    }
    const actual = typeOf(Object.entries(ours).find(([k]) => k === key)?.[1]);
    const want = typeOf(expected);
    if (want === "null" || actual === "null" || actual === want) continue;
    out.push(`${resource}.${key}: ${actual}, Stripe's fixture has ${want}`);
  }
  return out;
}

describe.skipIf(!present)(`object shapes match Stripe's fixtures${present ? "" : " (skipped: ../shared/stripe/fixtures3.json is absent)"}`, () => {
  let h: Harness;
  let fixtures: Record<string, unknown> = {};
  const seen = new Map<string, unknown>();
  beforeAll(async () => {
    const parsed: { resources: Record<string, unknown> } = JSON.parse(readFileSync(FIXTURES, "utf8"));
    fixtures = parsed.resources;
    h = await start();
    const { local } = await catalog(h.stripe);
    const { clock, customer } = await clockCustomer(h.stripe, "pm_card_chargeCustomerFail");
    const raw = async (path: string): Promise<unknown> => (await fetch(`${h.em.url}${path}`, { headers: { authorization: `Bearer ${h.em.secretKey}` } })).json();
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: local.id }],
      trial_period_days: 3,
      discounts: [{ coupon: (await h.stripe.coupons.create({ percent_off: 10, duration: "once" })).id }],
    });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: clock.frozen_time + 5 * 86_400 });
    const invId = (await h.stripe.invoices.list({ customer: customer.id, limit: 1 })).data[0]?.id ?? "";
    const inv = await h.stripe.invoices.retrieve(invId);
    const piId = inv.payments?.data[0]?.payment.payment_intent;
    const ii = await h.stripe.invoiceItems.create({ customer: customer.id, amount: 100, currency: "usd" });
    const cs = await h.stripe.checkout.sessions.create({ mode: "subscription", line_items: [{ price: local.id, quantity: 1 }], success_url: "http://x/s" });
    const coupon = await h.stripe.coupons.create({ amount_off: 500, currency: "usd", duration: "repeating", duration_in_months: 3 });
    const promo = await h.stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id } });
    const we = await h.stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/x", enabled_events: ["*"] });
    const portal = await h.stripe.billingPortal.sessions.create({ customer: customer.id });
    seen.set("customer", await raw(`/v1/customers/${customer.id}`));
    const taxId = await h.stripe.customers.createTaxId(customer.id, { type: "eu_vat", value: "DE123456789" });
    seen.set("tax_id", await raw(`/v1/customers/${customer.id}/tax_ids/${taxId.id}`));
    seen.set("product", await raw(`/v1/products/${typeof local.product === "string" ? local.product : ""}`));
    seen.set("price", await raw(`/v1/prices/${local.id}`));
    seen.set("coupon", await raw(`/v1/coupons/${coupon.id}`));
    seen.set("promotion_code", await raw(`/v1/promotion_codes/${promo.id}`));
    seen.set("payment_method", await raw(`/v1/payment_methods/${typeof customer.invoice_settings.default_payment_method === "string" ? customer.invoice_settings.default_payment_method : ""}`));
    seen.set("subscription", await raw(`/v1/subscriptions/${sub.id}`));
    seen.set("subscription_item", (await h.stripe.subscriptions.retrieve(sub.id)).items.data[0]);
    seen.set("invoice", await raw(`/v1/invoices/${invId}`));
    seen.set("line_item", inv.lines.data[0]);
    seen.set("invoiceitem", await raw(`/v1/invoiceitems/${ii.id}`));
    seen.set("payment_intent", await raw(`/v1/payment_intents/${typeof piId === "string" ? piId : ""}`));
    seen.set("charge", (await h.stripe.charges.list({ customer: customer.id, limit: 1 })).data[0]);
    seen.set("invoice_payment", inv.payments?.data[0]);
    seen.set("checkout.session", await raw(`/v1/checkout/sessions/${cs.id}`));
    seen.set("event", (await h.stripe.events.list({ limit: 1 })).data[0]);
    seen.set("test_helpers.test_clock", await raw(`/v1/test_helpers/test_clocks/${clock.id}`));
    seen.set("webhook_endpoint", await raw(`/v1/webhook_endpoints/${we.id}`));
    seen.set("billing_portal.session", portal);
    const scheduled = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: local.id }], trial_period_days: 3 });
    const sched = await h.stripe.subscriptionSchedules.create({ from_subscription: scheduled.id });
    seen.set("subscription_schedule", await raw(`/v1/subscription_schedules/${sched.id}`));
    const discountRef = sub.discounts[0];
    seen.set("discount", h.em.core.state.discounts.get(typeof discountRef === "string" ? discountRef : (discountRef?.id ?? "")));
  });
  afterAll(async () => {
    await h.stop();
  });

  for (const resource of [
    "customer",
    "product",
    "price",
    "coupon",
    "promotion_code",
    "payment_method",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoiceitem",
    "payment_intent",
    "charge",
    "invoice_payment",
    "checkout.session",
    "event",
    "test_helpers.test_clock",
    "webhook_endpoint",
    "billing_portal.session",
    "discount",
    "subscription_schedule",
    "tax_id",
  ]) {
    it(`${resource} carries every field of Stripe's example with the same JSON type`, () => {
      expect(mismatches(resource, seen.get(resource), fixtures)).toEqual([]);
    });
  }
});
