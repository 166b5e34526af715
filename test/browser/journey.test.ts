/**
 * A newcomer's journey in a real browser (Debian's chromium through playwright-core): the
 * job-board demo app, the billing worker (workerd, in-process) and the Stripe emulator with its
 * hosted checkout page, webhooks delivered as Stripe would. A new user is denied nationwide
 * search with the upgrade prompt, starts a Mobile trial on the hosted page with a test card, is
 * allowed once back; the card fails at the renewal and the app warns; canceling shows the
 * retention offer. No page logs a console error. Screenshots go to test/browser/screenshots/.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startJobBoard, type RunningJobBoard } from "../../examples/job-board/src/index.ts";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { catalog, PERIOD_OF } from "../../worker/src/catalog.ts";
import { ROOT, startWorker, type WorkerHarness } from "../harness/worker.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_BROWSER = existsSync(CHROMIUM);
const SHOTS = path.join(ROOT, "test/browser/screenshots");
const POLL_MS = 1_000;

let emulator: Emulator;
let worker: WorkerHarness;
let app: RunningJobBoard;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

/** Chrome reports a page answered with an error status as a console error; a 403 denial is the answer asked for. */
const expectedStatus = (m: ConsoleMessage) => /Failed to load resource: the server responded with a status of 403/.test(m.text()) && /\/jobs\//.test(m.location().url);

// Skipped only where no browser exists at all: .ci/run installs Debian's chromium first.
describe.skipIf(!HAVE_BROWSER)(`a newcomer's journey in chromium (${CHROMIUM})`, () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    emulator = await startEmulator({ port: 0, secretKey: "sk_test_browser", taxRates: { "US-CA": 725 } });
    const stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
    for (const tier of catalog.tiers) {
      const product = await stripe.products.create({ name: `Federal Job Advisor ${tier.name}`, metadata: { tier: tier.key } });
      for (const p of tier.prices)
        await stripe.prices.create({ product: product.id, currency: p.unit.currency, unit_amount: p.unit.amount, recurring: { ...PERIOD_OF[p.billingCycle] }, lookup_key: p.lookupKey });
    }
    const endpoint = await stripe.webhookEndpoints.create({ url: "http://127.0.0.1:9/webhooks/stripe", enabled_events: ["*"] });
    worker = await startWorker({ bindings: { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret! } });
    await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });
    app = await startJobBoard({ billingUrl: worker.url, serviceKey: worker.serviceKey, issuer: worker.issuer, audience: worker.audience, port: 0, changesPollIntervalMs: POLL_MS });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    page.on("console", (m) => {
      if (m.type() === "error" && !expectedStatus(m)) consoleErrors.push(`${m.location().url}: ${m.text()}`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await worker?.dispose();
    await emulator?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const user = `newcomer${Date.now().toString(36)}`;

  /** Reloads `url` until `check` holds: the app's decision follows the worker within a poll interval. */
  async function eventually(url: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      await page.goto(url);
      if (await check()) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`${url} did not change within ${timeoutMs} ms: ${(await page.textContent("body"))?.replace(/\s+/g, " ").slice(0, 400)}`);
      await page.waitForTimeout(200);
    }
  }

  it("denies a new user nationwide search with the upgrade prompt", async () => {
    await page.goto(`${app.url}/signin`);
    await page.fill("input[name=name]", user);
    await page.click("button[type=submit]");
    const res = await page.goto(`${app.url}/jobs/nationwide`);
    expect(res?.status()).toBe(403);
    await expect(page.textContent("main")).resolves.toMatch(/Subscribe to Mobile \(\$49\/month\)/);
    expect(await page.getAttribute("a[href^='/billing/upgrade?tier=mobile']", "href")).toBeTruthy();
    await shot("1-denied-with-upgrade-prompt");
  });

  it("starts a Mobile trial on the hosted checkout page and is allowed once back", async () => {
    // The link shows the plan; its form's button (a POST with the form token) starts Checkout.
    await page.click("a[href^='/billing/upgrade?tier=mobile']");
    await page.waitForURL(`${app.url}/billing/upgrade?tier=mobile`);
    await page.click("form[action='/billing/upgrade'] button[type=submit]");
    await page.waitForURL(/\/_emulator\/checkout\//);
    await expect(page.textContent("body")).resolves.toContain("14 days free, then $49.00 / month");
    await shot("2-hosted-checkout");
    // A card that works today and is declined at the first renewal.
    await page.selectOption("select[name=payment_method]", "chargeCustomerFail");
    await page.click("button[type=submit]");
    await page.waitForURL(`${app.url}/billing/success**`);
    await shot("3-back-from-checkout");
    await worker.drainQueue();
    const waited = await eventually(`${app.url}/jobs/nationwide`, async () => (await page.textContent("body"))?.includes("Included in your free trial") ?? false, 2 * POLL_MS + 5_000);
    expect(waited).toBeLessThan(2 * POLL_MS + 5_000);
    await shot("4-allowed-in-trial");
  });

  it("warns that the payment failed when the card is declined at the renewal, and keeps access", async () => {
    // The trial's end and the renewal's charge, run now by the emulator's clock for real-time objects.
    emulator.advanceTo(Math.floor(Date.now() / 1000) + 14 * 86_400 + 2 * 3_600);
    await emulator.idle();
    await worker.drainQueue();
    await eventually(`${app.url}/jobs/nationwide`, async () => /Your last payment failed/.test((await page.textContent("body")) ?? ""), 2 * POLL_MS + 10_000);
    expect(await page.getAttribute("a[href='/billing']", "href")).toBe("/billing");
    await shot("5-past-due-warning");
  });

  it("shows the retention offer first when the user cancels", async () => {
    // Paid up first (a new card), as cancelling is what this step is about.
    const stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
    const [customer] = (await stripe.customers.search({ query: `metadata['user_id']:'demo_${user}'` })).data;
    const card = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer!.id });
    await stripe.customers.update(customer!.id, { invoice_settings: { default_payment_method: card.id } });
    for (const inv of (await stripe.invoices.list({ customer: customer!.id, status: "open" })).data) await stripe.invoices.pay(inv.id, { payment_method: card.id });
    await emulator.idle();
    await worker.drainQueue();
    await page.goto(`${app.url}/billing`);
    await page.click("form[action='/billing/cancel'] button[type=submit]");
    await expect(page.textContent("main")).resolves.toMatch(/switch to Local for \$29\.00\/month/i);
    expect(await page.locator("form[action='/billing/offer/accept']").count()).toBe(1);
    await shot("6-retention-offer");
  });

  it("logged no console error on any page", () => {
    expect(consoleErrors).toEqual([]);
  });
});
