import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Stripe from "stripe";
import { catalog, receiver, start, type Harness } from "./helpers.ts";

let h: Harness;
let rx: Awaited<ReturnType<typeof receiver>>;
let secret = "";
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start({ taxRates: { "US-CA": 725 } });
  rx = await receiver();
  secret = (await h.stripe.webhookEndpoints.create({ url: rx.url, enabled_events: ["*"] })).secret ?? "";
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
  await rx.close();
});

async function session(extra: Partial<Stripe.Checkout.SessionCreateParams> = {}): Promise<Stripe.Checkout.Session> {
  return h.stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: prices.mobile.id, quantity: 1 }],
    subscription_data: { trial_period_days: 14, metadata: { user_id: "u_42", tier: "mobile" } },
    metadata: { user_id: "u_42", tier: "mobile" },
    client_reference_id: "u_42",
    customer_email: "buyer@example.com",
    allow_promotion_codes: true,
    automatic_tax: { enabled: true },
    success_url: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "http://localhost/cancel",
    ...extra,
  });
}

describe("checkout: happy path", () => {
  it("completes a subscription-mode session through the test helper like a buyer", async () => {
    const s = await session();
    expect(s.url).toBe(`${h.em.url}/_emulator/checkout/${s.id}`);
    expect(s.status).toBe("open");
    const res = await fetch(`${h.em.url}/v1/test_helpers/checkout/sessions/${s.id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.em.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: "payment_method=pm_card_visa&address[country]=US&address[state]=CA",
    });
    expect(res.status).toBe(200);
    const done = await h.stripe.checkout.sessions.retrieve(s.id, { expand: ["subscription", "customer"] });
    expect(done.status).toBe("complete");
    const sub = done.subscription;
    if (typeof sub !== "object" || sub === null) throw new Error("subscription not expanded");
    expect(sub.status).toBe("trialing");
    expect(sub.metadata).toEqual({ user_id: "u_42", tier: "mobile" });
    expect(typeof sub.default_payment_method).toBe("string");
    const customer = done.customer;
    if (typeof customer !== "object" || customer === null || customer.deleted) throw new Error("customer not expanded");
    expect(customer.email).toBe("buyer@example.com");
    await h.em.idle();
    const events = await Promise.all(rx.received.map((r) => h.stripe.webhooks.constructEventAsync(r.body, r.signature, secret)));
    const completed = events.find((e) => e.type === "checkout.session.completed");
    if (completed?.type !== "checkout.session.completed") throw new Error("no checkout.session.completed");
    expect(completed.data.object.client_reference_id).toBe("u_42");
    expect(completed.data.object.subscription).toBe(sub.id);
  });

  it("serves a hosted page where a person can pay with a chosen test card", async () => {
    const s = await session();
    const page = await fetch(s.url ?? "");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("pm_card_chargeDeclinedInsufficientFunds");
    const submit = await fetch(s.url ?? "", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=person%40example.com&payment_method=pm_card_mastercard",
    });
    expect(submit.status).toBe(303);
    expect(submit.headers.get("location")).toBe(`http://localhost/success?session_id=${s.id}`);
    expect((await h.stripe.checkout.sessions.retrieve(s.id)).status).toBe("complete");
  });

  it("takes the hosted form as a browser sends it, empty fields included, and shows a refused code as a page", async () => {
    const s = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: (await h.stripe.prices.list({ limit: 1 })).data[0]!.id, quantity: 1 }],
      success_url: "http://localhost/success?session_id={CHECKOUT_SESSION_ID}",
      allow_promotion_codes: true,
    });
    const bad = await fetch(s.url ?? "", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=person%40example.com&name=&payment_method=pm_card_visa&promotion_code=NOPE",
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/Payment not completed[\s\S]*NOPE[\s\S]*Back to checkout/);
    const submit = await fetch(s.url ?? "", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "email=person%40example.com&name=&payment_method=pm_card_visa&promotion_code=",
    });
    expect(submit.status).toBe(303);
    expect((await h.stripe.checkout.sessions.retrieve(s.id)).status).toBe("complete");
  });

  it("creates a billing portal session with a URL", async () => {
    const c = await h.stripe.customers.create({});
    const portal = await h.stripe.billingPortal.sessions.create({ customer: c.id, return_url: "http://localhost/account" });
    expect(portal.url).toMatch(/\/_emulator\/portal\/bps_/);
    expect((await fetch(portal.url)).status).toBe(200);
  });
});

describe("checkout: the hosted page", () => {
  it("shows the trial (14 days free, then $49.00 / month), the automatic tax for the address and nothing due today", async () => {
    const s = await session();
    const res = await fetch(s.url!);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("14 days free, then $49.00 / month");
    // 7.25 % of $49.00 = $3.5525, rounded half up to $3.55, in the form's default state (CA).
    expect(html).toContain("Tax (7.25 %, US-CA)");
    expect(html).toContain("$3.55 / month");
    expect(html).toMatch(/Due today<\/td><td[^>]*>\$0\.00</);
  });

  it("shows the session's custom submit text above the pay button, and keeps it on the session", async () => {
    const message = "Cancel any time; payments are not refunded for time already used & kept.";
    const s = await session({ custom_text: { submit: { message } } });
    expect(s.custom_text).toEqual({ after_submit: null, shipping_address: null, submit: { message }, terms_of_service_acceptance: null });
    expect((await h.stripe.checkout.sessions.retrieve(s.id)).custom_text.submit).toEqual({ message });
    const html = await (await fetch(s.url!)).text();
    expect(html).toMatch(/<p class="custom-text">Cancel any time; payments are not refunded for time already used &#38; kept\.<\/p>\s*<button type="submit">Pay<\/button>/);
    expect(await (await fetch((await session()).url!)).text()).not.toContain("custom-text");
  });

  it("without a trial or automatic tax, shows neither and charges the price today", async () => {
    const s = await session({ subscription_data: { metadata: { user_id: "u_43" } }, automatic_tax: { enabled: false }, line_items: [{ price: prices.local.id, quantity: 1 }] });
    const html = await (await fetch(s.url!)).text();
    expect(html).not.toContain("days free");
    expect(html).not.toContain("Tax");
    expect(html).toMatch(/Due today<\/td><td[^>]*>\$29\.00</);
  });

  it("without a tax rate for the address, says tax is calculated from it", async () => {
    const customer = await h.stripe.customers.create({ email: "far@example.com", address: { country: "FR" } });
    const s = await session({ customer_email: undefined, customer: customer.id });
    const html = await (await fetch(s.url!)).text();
    expect(html).toContain("calculated from your address");
    expect(html).toContain("14 days free, then $49.00 / month");
  });
});

describe("checkout: errors", () => {
  it("rejects one-time prices in subscription mode and a completed session twice", async () => {
    const oneTime = await h.stripe.prices.create({ product: typeof prices.local.product === "string" ? prices.local.product : "", currency: "usd", unit_amount: 500 });
    const err = await session({ line_items: [{ price: oneTime.id, quantity: 1 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    if (err instanceof Stripe.errors.StripeError) expect(err.param).toBe("line_items[0][price]");
    const s = await session();
    const complete = () =>
      fetch(`${h.em.url}/v1/test_helpers/checkout/sessions/${s.id}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.em.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
        body: "payment_method=pm_card_visa",
      });
    expect((await complete()).status).toBe(200);
    expect((await complete()).status).toBe(400);
  });
});
