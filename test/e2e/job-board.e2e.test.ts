/**
 * Issue 13: the job-board demo app (examples/job-board) as a customer of the billing worker.
 * The worker runs in workerd (test/harness/worker.ts) against the Stripe emulator, which delivers
 * signed webhooks to it; the demo app is driven through `app.request(...)` like a browser would:
 * a session cookie, forms posted with the page's own Origin and form token, redirects read from
 * `Location`. Every HTML answer is checked for the CSP, for scripts and for the service key.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { billingClient } from "../../examples/job-board/src/billing-client.ts";
import { createApp } from "../../examples/job-board/src/index.ts";
import { JOBS } from "../../examples/job-board/src/jobs.ts";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { catalog } from "../../worker/src/catalog.ts";
import { seedCatalog } from "../../scripts/catalog-prices.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

const ORIGIN = "http://127.0.0.1:3000";

let emulator: Emulator;
let stripe: Stripe;
let worker: WorkerHarness;
let app: ReturnType<typeof createApp>;
let htmlPagesChecked = 0;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, secretKey: "sk_test_job_board" });
  stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  await seedCatalog(stripe);
  // The endpoint's secret must be known before the worker starts, and the worker's URL after: create, start, point.
  const endpoint = await stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/webhooks/stripe", enabled_events: ["*"] });
  worker = await startWorker({ bindings: { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret! } });
  await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });
  app = createApp({ billingUrl: worker.url, serviceKey: worker.serviceKey, issuer: worker.issuer, audience: worker.audience, origin: ORIGIN, sessionSecret: "job-board-e2e-session-secret" });
}, 120_000);

afterAll(async () => {
  await worker?.dispose();
  await emulator?.stop();
});

interface Page {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
}

/** What every HTML page must hold to: the strict CSP, no script of any kind, no service key. */
function checkHtml(res: Response, body: string): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toContain("unsafe-eval");
  expect(body).not.toMatch(/<script\b/i);
  expect(body).not.toMatch(/\son[a-z]+\s*=/i); // no event-handler attributes
  expect(body).not.toMatch(/\sstyle\s*=/i);
  expect(body).not.toMatch(/javascript:/i);
  expect(body).not.toContain(worker.serviceKey);
  expect(body).not.toContain(emulator.secretKey);
  expect(body).not.toMatch(/\n\s+at [^\n]+:\d+:\d+/); // no stack trace
  htmlPagesChecked++;
}

/** A browser of the demo app: keeps the session cookie and the form token of the last page. */
class Browser {
  cookie = "";
  csrf = "";

  async send(path: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set("cookie", this.cookie);
    const res = await app.request(`${ORIGIN}${path}`, { ...init, headers, redirect: "manual" });
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) {
      const pair = setCookie.split(";")[0]!;
      this.cookie = /Max-Age=0|=;/.test(setCookie) ? "" : pair;
    }
    const body = await res.text();
    if (res.headers.get("content-type")?.startsWith("text/html")) {
      checkHtml(res, body);
      const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
      if (token) this.csrf = token;
    }
    return { status: res.status, headers: res.headers, body, location: res.headers.get("location") };
  }

  get(path: string): Promise<Page> {
    return this.send(path);
  }

  /** A form post from this app's own page: its Origin and the page's form token. */
  post(path: string, form: Record<string, string> = {}, opts: { origin?: string; csrf?: boolean } = {}): Promise<Page> {
    const body = new URLSearchParams({ ...(opts.csrf !== false && this.csrf ? { _csrf: this.csrf } : {}), ...form });
    return this.send(path, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded", origin: opts.origin ?? ORIGIN } });
  }
}

let users = 0;
/** A new demo user, signed in; `userId` is what the app derived from the name. */
async function signIn(name: string): Promise<Browser & { userId: string }> {
  const b = new Browser();
  const unique = `${name} ${++users}`;
  const res = await b.post("/signin", { name: unique });
  expect(res.status).toBe(303);
  const userId = `demo_${unique.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
  return Object.assign(b, { userId });
}

/** The emulator's Checkout Session the app redirected to. */
async function sessionOf(location: string): Promise<Stripe.Checkout.Session> {
  const id = /\/(cs_[A-Za-z0-9_]+)/.exec(location)?.[1];
  expect(id, `a checkout session id in ${location}`).toBeTruthy();
  return stripe.checkout.sessions.retrieve(id!);
}

/** Pays a Checkout Session as the buyer would on the hosted page (the emulator's test helper). */
async function completeCheckout(sessionId: string): Promise<void> {
  const res = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${sessionId}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: "payment_method=pm_card_visa",
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Waits until the worker has processed the webhooks and the user's entitlement has this status. */
async function entitlementBecomes(userId: string, status: string, tier?: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const e = await worker.getEntitlement(userId);
      expect(e.status).toBe(status);
      if (tier) expect(e.tier).toBe(tier);
    },
    { timeout: 30_000, interval: 100 },
  );
}

/** Follows an upgrade link and posts the form its page shows, as a browser does. */
async function upgrade(b: Browser, tier: string): Promise<Page> {
  const confirm = await b.get(`/billing/upgrade?tier=${tier}`);
  expect(confirm.status).toBe(200);
  expect(confirm.body).toContain(`<input type="hidden" name="tier" value="${tier}">`);
  return b.post("/billing/upgrade", { tier });
}

/** Subscribes the user through the app: upgrade link → its form → Checkout → paid → webhooks processed. */
async function subscribe(b: Browser & { userId: string }, tier: "local" | "mobile"): Promise<void> {
  const res = await upgrade(b, tier);
  expect(res.status).toBe(303);
  await completeCheckout((await sessionOf(res.location!)).id);
  await entitlementBecomes(b.userId, "trialing", tier);
}

const milesOf = (body: string) => [...body.matchAll(/<tr data-job="[^"]+">(?:<td>.*?<\/td>){3}<td class="num">(\d+)<\/td>/g)].map((m) => Number(m[1]));

describe("job-board demo app against the worker and the Stripe emulator", () => {
  test("signing in sets a signed HttpOnly SameSite=Lax session cookie with a demo_ user id and says it is a demo", async () => {
    const b = new Browser();
    const form = await b.get("/signin");
    expect(form.status).toBe(200);
    expect(form.body).toMatch(/demo/i);
    expect(form.body).toMatch(/no passwords/i);
    const res = await app.request(`${ORIGIN}/signin`, {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" },
      body: "name=Ana%20Mar%C3%ADa&next=%2Fbilling",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/billing");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^fja_demo_session=demo_ana_maria\.[^;]+;/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);

    // A forged cookie (unsigned or re-signed with another secret) is no session.
    const forged = await app.request(`${ORIGIN}/billing`, { headers: { cookie: "fja_demo_session=demo_someone_else" }, redirect: "manual" });
    expect(forged.status).toBe(303);
    expect(forged.headers.get("location")).toBe("/signin?next=%2Fbilling");
  });

  test("a signed-in user without a subscription is denied nationwide search with the SDK's upgrade prompt", async () => {
    const b = await signIn("Nora None");
    const res = await b.get("/jobs/nationwide");
    expect(res.status).toBe(403);
    expect(res.body).toContain("Subscribe to Mobile ($49/month) to use this feature.");
    expect(res.body).toContain('href="/billing/upgrade?tier=mobile"');
    expect(res.body).toContain("Start trial of Mobile");
    expect(res.body).not.toMatch(/data-job=/);
  });

  test("the upgrade link redirects to the emulator's hosted checkout, and paying there unlocks nationwide search", async () => {
    const b = await signIn("Maya Mobile");
    expect((await b.get("/jobs/nationwide")).status).toBe(403); // the SDK now holds a "none" token for her

    const res = await upgrade(b, "mobile");
    expect(res.status).toBe(303);
    const session = await sessionOf(res.location!);
    expect(res.location).toBe(session.url);
    expect(res.location!.startsWith(`${emulator.url}/`)).toBe(true);
    expect(session.client_reference_id).toBe(b.userId);
    expect(session.customer_email ?? session.customer_details?.email).toBe(`${b.userId}@demo.example`);
    expect(session.success_url).toBe(`${ORIGIN}/billing/success`);
    expect(session.cancel_url).toBe(`${ORIGIN}/billing`);

    await completeCheckout(session.id);
    await entitlementBecomes(b.userId, "trialing", "mobile");

    // No invalidate from the test: the app itself refetches the token after sending her to Checkout.
    const search = await b.get("/jobs/nationwide");
    expect(search.status).toBe(200);
    expect(search.body).toContain("Anchorage, AK");
    expect(search.body).toContain("Included in your free trial until");
    expect(milesOf(search.body)).toHaveLength(JOBS.length);

    const success = await b.get("/billing/success");
    expect(success.status).toBe(200);
    expect(success.body).toMatch(/access follows within seconds/i);
    expect(success.body).toContain("Your plan: Mobile (Free trial).");
    expect(success.body).toContain('href="/jobs/nationwide"');
  });

  test("the billing page shows the subscription, the next invoice in dollars and the invoices", async () => {
    const b = await signIn("Bill Payer");
    const before = await b.get("/billing");
    expect(before.status).toBe(200);
    expect(before.body).toContain("You have no subscription yet.");
    expect(before.body).toContain("Start 14-day free trial of Mobile");
    expect(before.body).toContain('href="/billing/upgrade?tier=local"');

    await subscribe(b, "mobile");
    const page = await b.get("/billing");
    expect(page.status).toBe(200);
    expect(page.body).toContain("Mobile (monthly)");
    expect(page.body).toContain("Free trial");
    // The worker's RFC 3339 instants shown as dates ("March 3, 2027").
    expect(page.body).toMatch(/Trial ends<\/dt><dd>[A-Z][a-z]+ \d{1,2}, \d{4}<\/dd>/);
    expect(page.body).not.toContain("Invalid Date");
    expect(page.body).toMatch(/Next invoice<\/dt><dd>\$49\.00 on [A-Z][a-z]+ \d{1,2}, \d{4}/);
    expect(page.body).toMatch(/<table class="invoices">[\s\S]*\$0\.00/); // the trial's $0 invoice
    expect(page.body).toContain("Manage billing");
    expect(page.body).toContain("Cancel subscription");
    expect(page.body).toContain("Switch to Local");
  });

  test("local search shows only postings within the plan's 50-mile radius, even when a wider radius is asked", async () => {
    const b = await signIn("Lou Local");
    await worker.setEntitlement(b.userId, { tier: "local", status: "active" });

    const wide = await b.get("/jobs/local?radius=500");
    expect(wide.status).toBe(200);
    const miles = milesOf(wide.body);
    expect(miles.length).toBe(JOBS.filter((j) => j.miles <= 50).length);
    expect(Math.max(...miles)).toBeLessThanOrEqual(50);
    expect(wide.body).toContain("Limited to 50 miles by your plan.");
    expect(wide.body).toContain("Your plan searches up to 50 miles from home.");

    const near = await b.get("/jobs/local?radius=10&q=analyst");
    expect(milesOf(near.body).length).toBe(JOBS.filter((j) => j.miles <= 10 && /analyst/i.test(j.title)).length);
    expect(Math.max(...milesOf(near.body))).toBeLessThanOrEqual(10);

    const nationwide = await b.get("/jobs/nationwide");
    expect(nationwide.status).toBe(403);
    expect(nationwide.body).toContain("Upgrade to Mobile ($49/month) to use this feature.");
    expect(nationwide.body).toContain('href="/billing/upgrade?tier=mobile"');

    // Mobile has no radius limit: the same local search reaches 500 miles.
    const m = await signIn("Moe Mobile");
    await worker.setEntitlement(m.userId, { tier: "mobile", status: "active" });
    const far = await m.get("/jobs/local?radius=500");
    expect(far.body).toContain("Your plan has no radius limit.");
    expect(milesOf(far.body).length).toBe(JOBS.filter((j) => j.miles <= 500).length);
  });

  test("saved searches are kept per user and gated by the saved_searches feature", async () => {
    const none = await signIn("Sam Nosub");
    const denied = await none.get("/saved");
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('href="/billing/upgrade?tier=local"');

    const b = await signIn("Sam Saver");
    await worker.setEntitlement(b.userId, { tier: "local", status: "active" });
    await b.get("/jobs/local?q=analyst&radius=25");
    const saved = await b.post("/saved", { scope: "local", q: "analyst", radius: "25" });
    expect(saved.status).toBe(303);
    const list = await b.get("/saved");
    expect(list.status).toBe(200);
    expect(list.body).toContain('href="/jobs/local?q=analyst&amp;radius=25"');
    expect((await none.get("/saved")).body).not.toContain("analyst");
  });

  test("a past-due user keeps access with the payment warning linking to billing", async () => {
    const b = await signIn("Pat Pastdue");
    await worker.setEntitlement(b.userId, { tier: "mobile", status: "past_due", graceUntil: Date.now() + 10 * 86_400_000 });
    const res = await b.get("/jobs/nationwide");
    expect(res.status).toBe(200);
    expect(res.headers.get("entitlement-warning")).toMatch(/^payment_past_due; grace_until=\d+$/);
    expect(res.body).toMatch(/<div class="notice warning" role="alert">Your last payment failed\. Update your payment method before [^<]+ to keep access\. <a href="\/billing">/);
  });

  test("a subscriber suspended by dunning sees Suspended on the billing page with the amount due and a Pay now link to the invoice's hosted page", async () => {
    const b = await signIn("Sam Suspended");
    const DAY = 86_400;
    const start = Math.floor(Date.now() / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const customer = await stripe.customers.create({
      email: `${b.userId}@demo.example`,
      metadata: { user_id: b.userId },
      test_clock: clock.id,
      payment_method: "pm_card_visa",
      invoice_settings: { default_payment_method: "pm_card_visa" },
    });
    const price = (await stripe.prices.list({ lookup_keys: ["local_monthly"] })).data[0]!;
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }], metadata: { user_id: b.userId, tier: "local" } });
    await entitlementBecomes(b.userId, "active", "local");
    const advance = async (to: number) => {
      await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
      await vi.waitFor(async () => expect((await stripe.testHelpers.testClocks.retrieve(clock.id)).status).toBe("ready"), { timeout: 30_000, interval: 100 });
      await worker.drainQueue();
    };
    // The renewal a month on is declined, then the clock walks through the dunning stages with the worker's cron after each step.
    const renewal = sub.items.data[0]!.current_period_end;
    await advance(renewal - DAY);
    const declining = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: declining.id } });
    await advance(renewal + 2 * 3600);
    const invoice = (await stripe.invoices.list({ subscription: sub.id, status: "open" })).data[0]!;
    expect(invoice.hosted_invoice_url).toMatch(/^https?:\/\//);
    const dunning = await worker.mf.getWorker();
    for (const day of [3.1, 7.1, 14.1, 21.1]) {
      await advance(renewal + 2 * 3600 + Math.round(day * DAY));
      await dunning.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
      await worker.drainQueue();
    }
    expect((await worker.getEntitlement(b.userId)).status).toBe("suspended");

    const page = await b.get("/billing");
    expect(page.status).toBe(200);
    expect(page.body).toContain("<dt>Status</dt><dd>Suspended</dd>");
    expect(page.body).not.toContain("Payment past due");
    expect(page.body).toContain("<dt>Amount due</dt><dd>$29.00</dd>");
    expect(page.body).toContain("Your access is suspended: $29.00 is due.");
    expect(page.body).toContain(`<a class="button" href="${invoice.hosted_invoice_url!.replace(/&/g, "&amp;")}">Pay now</a>`);
  }, 120_000);

  test("suspended, paused and canceled users are refused with the way out their decision offers", async () => {
    const suspended = await signIn("Sue Suspended");
    await worker.setEntitlement(suspended.userId, { tier: "mobile", status: "suspended" });
    const s = await suspended.get("/jobs/local");
    expect(s.status).toBe(403);
    expect(s.body).toContain("Update your payment method</h1>");
    expect(s.body).toContain("Your access is suspended because a payment failed.");
    expect(s.body).toContain('<a class="button" href="/billing">Update payment method</a>');

    const paused = await signIn("Paula Paused");
    await worker.setEntitlement(paused.userId, { tier: "mobile", status: "paused" });
    const p = await paused.get("/jobs/nationwide");
    expect(p.status).toBe(403);
    expect(p.body).toContain("Your subscription is paused.");
    expect(p.body).toContain('<a class="button" href="/billing">Resume subscription</a>');

    const canceled = await signIn("Cal Canceled");
    await worker.setEntitlement(canceled.userId, { tier: "mobile", status: "canceled" });
    const c = await canceled.get("/jobs/nationwide");
    expect(c.status).toBe(403);
    expect(c.body).toContain("Your subscription was canceled. Subscribe to Mobile ($49/month) to use this feature.");
    expect(c.body).toContain('<a class="button" href="/billing/upgrade?tier=mobile">Subscribe to Mobile</a>');
  });

  test("an upgrade link starts no Checkout Session; only its form, posted with the form token, does", async () => {
    const b = await signIn("Gus Get");
    const sessionsOf = async (userId: string) => (await stripe.checkout.sessions.list({ limit: 100 })).data.filter((s) => s.client_reference_id === userId).length;

    const confirm = await b.get("/billing/upgrade?tier=mobile");
    expect(confirm.status).toBe(200);
    expect(confirm.body).toMatch(/<form method="post" action="\/billing\/upgrade"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">/);
    expect(confirm.body).toContain("Continue to checkout");
    expect(await sessionsOf(b.userId)).toBe(0);

    const withoutToken = await b.post("/billing/upgrade", { tier: "mobile" }, { csrf: false });
    expect(withoutToken.status).toBe(403);
    expect(withoutToken.body).toContain("Form expired");
    const wrongToken = await b.send("/billing/upgrade", {
      method: "POST",
      body: new URLSearchParams({ tier: "mobile", _csrf: "0".repeat(64) }),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    });
    expect(wrongToken.status).toBe(403);
    const crossSite = await b.post("/billing/upgrade", { tier: "mobile" }, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(await sessionsOf(b.userId)).toBe(0);

    const started = await b.post("/billing/upgrade", { tier: "mobile" });
    expect(started.status).toBe(303);
    expect((await sessionOf(started.location!)).client_reference_id).toBe(b.userId);
    expect(await sessionsOf(b.userId)).toBe(1);
  });

  test("the plan page offers the tier's other cycles, and the two-year one starts a Checkout for the prepaid two-year price", async () => {
    const b = await signIn("Tess Twoyear");
    const plan = await b.get("/billing/upgrade?tier=mobile");
    expect(plan.body).toContain("Mobile: $49/month");
    for (const [cycle, label] of [
      ["annual", "$490/year"],
      ["two_year", "$882/2 years"],
      ["three_year", "$1,225/3 years"],
    ]) {
      expect(plan.body).toContain(`<a href="/billing/upgrade?tier=mobile&amp;billing_cycle=${cycle}">${label}</a>`);
    }
    const twoYear = await b.get("/billing/upgrade?tier=mobile&billing_cycle=two_year");
    expect(twoYear.body).toContain("Mobile: $882/2 years");
    expect(twoYear.body).toContain('<input type="hidden" name="billing_cycle" value="two_year">');
    const started = await b.post("/billing/upgrade", { tier: "mobile", billing_cycle: "two_year" });
    expect(started.status).toBe(303);
    const items = await stripe.checkout.sessions.listLineItems((await sessionOf(started.location!)).id);
    expect(items.data[0]?.price).toMatchObject({ lookup_key: "mobile_two_year", unit_amount: 88_200, recurring: { interval: "year", interval_count: 2 } });
    // A cycle the worker does not sell is no plan.
    expect((await b.get("/billing/upgrade?tier=mobile&billing_cycle=weekly")).status).toBe(400);
  });

  test("a subscriber's upgrade goes through the change preview and is made for the previewed amount", async () => {
    const b = await signIn("Carl Changer");
    await subscribe(b, "local");
    expect((await b.get("/jobs/nationwide")).status).toBe(403);

    const preview = await upgrade(b, "mobile"); // checkout answers 409: already subscribed
    expect(preview.status).toBe(200);
    expect(preview.body).toContain("Change to Mobile");
    const amount = /data-amount-due-now="(\d+)"/.exec(preview.body)?.[1];
    expect(amount).toBeDefined();
    expect(preview.body).toContain(`name="expected_amount_due_now" value="${amount}"`);
    expect(preview.body).toMatch(/Amount due now: <strong[^>]*>\$\d+\.\d\d<\/strong>/);

    const done = await b.post("/billing/change", { tier: "mobile", expected_amount_due_now: amount! });
    expect(done.status).toBe(303);
    expect(done.location).toBe("/billing?notice=changed");
    expect((await b.get("/jobs/nationwide")).status).toBe(200);
    expect((await b.get("/billing?notice=changed")).body).toContain("Your plan was changed.");
  });

  test("canceling shows the retention offer first; Cancel anyway ends at the period end and Reactivate undoes it", async () => {
    const b = await signIn("Cora Canceler");
    await subscribe(b, "mobile");
    await b.get("/billing");

    const offer = await b.post("/billing/cancel", { reason: "too_expensive" });
    expect(offer.status).toBe(200);
    expect(offer.body).toContain("Accept offer");
    expect(offer.body).toContain("Cancel anyway");
    expect(offer.body).toMatch(/name="offer_id" value="offer_[a-f0-9]{32}"/);

    const canceled = await b.post("/billing/cancel/confirm", { reason: "too_expensive" });
    expect(canceled.status).toBe(303);
    const after = await b.get(canceled.location!);
    expect(after.body).toMatch(/Your subscription ends on [A-Z][a-z]+ \d{1,2}, \d{4}\./);
    expect(after.body).toContain(">Reactivate</button>");
    expect(after.body).not.toContain("Cancel subscription");
    expect((await b.get("/jobs/nationwide")).status).toBe(200); // access until the period ends

    const reactivated = await b.post("/billing/reactivate");
    expect(reactivated.status).toBe(303);
    const renewed = await b.get(reactivated.location!);
    expect(renewed.body).toContain("Your subscription renews again.");
    expect(renewed.body).not.toContain(">Reactivate</button>");
  });

  test("a cancel whose answer is lost on the way is sent again with the same Idempotency-Key: the user still gets the retention offer, not a cancellation", async () => {
    const b = await signIn("Lou Lost");
    await subscribe(b, "mobile");
    const sent: { path: string; key: string | null }[] = [];
    let dropped = false;
    // The network between the app and the worker loses the first answer to the cancel: the worker acted, the app never heard.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const path = new URL(String(input)).pathname;
      sent.push({ path, key: new Headers(init?.headers).get("idempotency-key") });
      if (path.endsWith("/cancel") && !dropped) {
        dropped = true;
        throw new TypeError("fetch failed: connection reset");
      }
      return res;
    };
    const client = billingClient({ baseUrl: worker.url, apiKey: worker.serviceKey, fetch: lossy });
    const result = await client.cancel(b.userId, "too_expensive", false);
    expect(result).toMatchObject({ canceled: false, offer: { kind: "downgrade", to_tier: "local" } });
    const cancels = sent.filter((x) => x.path.endsWith("/cancel"));
    expect(cancels).toHaveLength(2);
    expect(cancels[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(cancels[1]!.key).toBe(cancels[0]!.key);
    const sub = await client.subscription(b.userId);
    expect(sub?.cancel_at_period_end).toBe(false);
    // A new cancel is a new key: the user saw the offer and declines it.
    expect(await client.cancel(b.userId, "too_expensive", false)).toMatchObject({ canceled: true });
  });

  test("accepting the retention offer keeps the subscription with the offer applied", async () => {
    const b = await signIn("Kim Keeper");
    await subscribe(b, "local");
    await b.get("/billing");
    const offer = await b.post("/billing/cancel", { reason: "unused" });
    const offerId = /name="offer_id" value="(offer_[a-f0-9]{32})"/.exec(offer.body)?.[1];
    expect(offer.body).toMatch(/25\s?%/);
    const accepted = await b.post("/billing/offer/accept", { offer_id: offerId! });
    expect(accepted.status).toBe(303);
    const page = await b.get(accepted.location!);
    expect(page.body).toContain("Offer accepted.");
    expect(page.body).toMatch(/Discount<\/dt><dd>25% off/);
    expect(page.body).toContain("Cancel subscription");
  });

  test("Manage billing opens the billing portal through the worker", async () => {
    const b = await signIn("Pete Portal");
    await subscribe(b, "local");
    await b.get("/billing");
    const res = await b.post("/billing/portal");
    expect(res.status).toBe(303);
    expect(res.location!.startsWith(`${emulator.url}/`)).toBe(true);
  });

  test("errors from the worker are shown as a readable message, never a stack trace", async () => {
    const b = await signIn("Eve Errors");
    const unknownTier = await b.get("/billing/upgrade?tier=gold");
    expect(unknownTier.status).toBe(400);
    expect(unknownTier.body).toContain('<div class="notice error" role="alert">');
    expect(unknownTier.body).not.toMatch(/problem\+json|"type":|Error:/);

    await b.get("/billing");
    const noCustomer = await b.post("/billing/cancel", { reason: "other" });
    expect(noCustomer.status).toBe(404);
    expect(noCustomer.body).toContain('<div class="notice error" role="alert">');

    const missing = await b.get("/no/such/page");
    expect(missing.status).toBe(404);
  });

  test("form posts from another origin or without the page's form token are refused", async () => {
    const b = await signIn("Fay Forms");
    await b.get("/billing");
    const crossSite = await b.post("/billing/portal", {}, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    const noToken = await b.post("/billing/portal", {}, { csrf: false });
    expect(noToken.status).toBe(403);
    expect(noToken.body).toContain("Form expired");
  });

  test("every page has the strict CSP, no inline script and no service key; the stylesheet is a static file", async () => {
    const out = new Browser();
    for (const path of ["/", "/signin", "/no/such/page"]) await out.get(path);
    const b = await signIn("Vera Visitor");
    await worker.setEntitlement(b.userId, { tier: "local", status: "active" });
    for (const path of ["/", "/jobs/local", "/jobs/nationwide", "/saved", "/billing", "/billing/success"]) {
      const res = await b.get(path);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const css = await app.request(`${ORIGIN}/static/app.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(htmlPagesChecked).toBeGreaterThan(40); // every page of every test above went through checkHtml
  });
});
