/**
 * `npm run stripe:setup` against a fresh emulator: it creates every catalog price and one webhook
 * endpoint with exactly the handled event types; a second run writes nothing (the emulator's
 * request count); a changed amount moves the lookup key to a new price and archives the old one;
 * `--dry-run` writes nothing; bad input is one line and exit status 2. Then the worker, given the
 * secret setup wrote, receives only the handled events, resolves every catalog price, and keeps a
 * subscriber's tier after setup moved their price's lookup key to a new price.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { describeChange, runSetup, type SetupOptions, type SetupResult } from "../../scripts/stripe-setup/index.ts";
import { catalog, individualTiers, PERIOD_OF, type Catalog } from "../../worker/src/catalog.ts";
import { pinnedApiVersion } from "../../worker/src/stripe-sync/api-version.ts";
import { HANDLED_EVENT_TYPES } from "../../worker/src/stripe-sync/handled-events.ts";
import { ROOT, startWorker, type WorkerHarness } from "../harness/worker.ts";

const KEY = "sk_test_stripe_setup";
let dir: string;
const emulators: Emulator[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "fja-stripe-setup-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  while (emulators.length) await emulators.pop()?.stop();
});

async function fresh(): Promise<{ em: Emulator; stripe: Stripe }> {
  const em = await startEmulator({ port: 0, secretKey: KEY });
  emulators.push(em);
  return { em, stripe: new Stripe(KEY, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: em.port, protocol: "http", maxNetworkRetries: 0 }) };
}

function options(over: { catalog?: Catalog; webhookUrl?: string | null; dryRun?: boolean; devVars?: string } = {}): SetupOptions {
  return {
    target: {
      catalog: over.catalog ?? catalog,
      webhookUrl: over.webhookUrl === undefined ? "https://billing.example.com/webhooks/stripe" : over.webhookUrl,
      events: HANDLED_EVENT_TYPES,
      apiVersion: pinnedApiVersion({}),
      portalReturnUrl: "https://app.example.com/billing",
    },
    environment: "production",
    keyMode: "test",
    dryRun: over.dryRun ?? false,
    devVarsPath: over.devVars ?? path.join(dir, "unused.dev.vars"),
  };
}

/** The writes (POST, DELETE) the emulator served so far. */
function writes(em: Emulator): number {
  const r = em.requests();
  return (r.POST ?? 0) + (r.DELETE ?? 0);
}

async function catalogPrices(stripe: Stripe): Promise<Record<string, { id: string; amount: number | null; interval: string | undefined; interval_count: number | undefined; active: boolean }>> {
  const keys = catalog.tiers.flatMap((t) => t.prices.map((p) => p.lookupKey));
  // Stripe takes up to 10 lookup keys per list.
  const found = { data: [] as Stripe.Price[] };
  for (let i = 0; i < keys.length; i += 10) found.data.push(...(await stripe.prices.list({ lookup_keys: keys.slice(i, i + 10), limit: 100 })).data);
  return Object.fromEntries(found.data.map((p) => [p.lookup_key, { id: p.id, amount: p.unit_amount, interval: p.recurring?.interval, interval_count: p.recurring?.interval_count, active: p.active }]));
}

function withAmount(key: string, amount: number): Catalog {
  const copy: Catalog = structuredClone(catalog);
  for (const tier of copy.tiers) for (const p of tier.prices) if (p.lookupKey === key) p.unit.amount = amount;
  return copy;
}

describe("stripe:setup against a fresh emulator", () => {
  it("creates every catalog price by lookup key and one endpoint with exactly the handled events and the pinned version", async () => {
    const { stripe } = await fresh();
    const result = await runSetup(stripe, options());
    const prices = await catalogPrices(stripe);
    // The prepaid multi-year prices: one payment for two or three years.
    expect(prices.mobile_two_year).toMatchObject({ amount: 88_200, interval: "year", interval_count: 2 });
    expect(prices.local_three_year).toMatchObject({ amount: 72_500, interval: "year", interval_count: 3 });
    // An agency's seat per term: $390 a year, 24 months 5 % off, 36 months 10 % off.
    expect([prices.agency_seat_annual, prices.agency_seat_two_year, prices.agency_seat_three_year]).toEqual([
      expect.objectContaining({ amount: 39_000, interval: "year", interval_count: 1 }),
      expect.objectContaining({ amount: 74_100, interval: "year", interval_count: 2 }),
      expect.objectContaining({ amount: 105_300, interval: "year", interval_count: 3 }),
    ]);
    for (const tier of catalog.tiers) {
      for (const p of tier.prices) {
        expect(prices[p.lookupKey]).toMatchObject({ amount: p.unit.amount, ...PERIOD_OF[p.billingCycle], active: true });
      }
    }
    const endpoints = (await stripe.webhookEndpoints.list()).data;
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ url: "https://billing.example.com/webhooks/stripe", api_version: Stripe.API_VERSION, status: "enabled" });
    expect([...endpoints[0]!.enabled_events].sort()).toEqual([...HANDLED_EVENT_TYPES].sort());
    // A deployed worker's secret is printed once, as the command that sets it.
    expect(result.secret).toMatchObject({ kind: "wrangler", command: expect.stringMatching(/^printf '%s' 'whsec_\w+' \| npx wrangler secret put STRIPE_WEBHOOK_SECRETS$/) });
    const [portal] = (await stripe.billingPortal.configurations.list({ is_default: true })).data;
    expect(portal?.features).toMatchObject({
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
      subscription_cancel: { enabled: false },
      subscription_update: { enabled: false },
      customer_update: { enabled: true, allowed_updates: catalog.policy.portal.customer_updates },
    });
    expect(portal?.default_return_url).toBe("https://app.example.com/billing");
    expect(result.plan.checks.find((c) => c.name === "stripe_tax")).toMatchObject({ ok: false, message: expect.stringContaining("pending") });
  });

  it("a second run changes nothing and makes no write", async () => {
    const { em, stripe } = await fresh();
    await runSetup(stripe, options());
    const before = writes(em);
    const again = await runSetup(stripe, options());
    expect(again.plan.changes).toEqual([]);
    expect(again.applied).toBeNull();
    expect(writes(em)).toBe(before);
    expect((await stripe.webhookEndpoints.list()).data).toHaveLength(1);
  });

  it("a changed amount makes a new price that takes the lookup key, and archives the old one unchanged", async () => {
    const { em, stripe } = await fresh();
    await runSetup(stripe, options());
    const old = (await catalogPrices(stripe)).local_monthly!;
    const changed = withAmount("local_monthly", old.amount! + 600);
    const result = await runSetup(stripe, options({ catalog: changed }));
    expect(result.plan.changes).toEqual([expect.objectContaining({ kind: "replace_price", lookupKey: "local_monthly", amount: old.amount! + 600, old: expect.objectContaining({ id: old.id }) })]);
    const now = (await catalogPrices(stripe)).local_monthly!;
    expect(now.id).not.toBe(old.id);
    expect(now).toMatchObject({ amount: old.amount! + 600, active: true });
    expect(await stripe.prices.retrieve(old.id)).toMatchObject({ active: false, lookup_key: null, unit_amount: old.amount });
    const before = writes(em);
    expect((await runSetup(stripe, options({ catalog: changed }))).plan.changes).toEqual([]);
    expect(writes(em)).toBe(before);
  });

  it("a price whose period differs only in interval_count (a two-year key on a yearly price) is replaced by one billing every two years", async () => {
    const { stripe } = await fresh();
    await runSetup(stripe, options());
    const old = (await catalogPrices(stripe)).mobile_two_year!;
    const product = (await stripe.prices.retrieve(old.id)).product as string;
    // Same amount and interval, one year instead of two: what an old setup or a hand edit leaves.
    const yearly = await stripe.prices.create({ product, currency: "usd", unit_amount: 88_200, recurring: { interval: "year" }, lookup_key: "mobile_two_year", transfer_lookup_key: true });
    const result = await runSetup(stripe, options());
    expect(result.plan.changes).toEqual([
      expect.objectContaining({ kind: "replace_price", lookupKey: "mobile_two_year", intervalCount: 2, old: expect.objectContaining({ id: yearly.id, intervalCount: 1 }) }),
    ]);
    expect(describeChange(result.plan.changes[0]!)).toMatch(/^replace price mobile_two_year: 882\.00 USD per year \(price_\w+, archived; its subscribers keep it\) → 882\.00 USD per 2 years/);
    expect((await catalogPrices(stripe)).mobile_two_year).toMatchObject({ amount: 88_200, interval: "year", interval_count: 2, active: true });
    expect(await stripe.prices.retrieve(yearly.id)).toMatchObject({ active: false, lookup_key: null });
  });

  it("--dry-run plans every change and writes nothing", async () => {
    const { em, stripe } = await fresh();
    const result = await runSetup(stripe, options({ dryRun: true }));
    expect(result.plan.changes.map((c) => c.kind).sort()).toEqual(
      ["create_product", "create_product", "create_product", ...Array(11).fill("create_price"), "create_webhook_endpoint", "update_portal_configuration"].sort(),
    );
    expect(result.plan.changes.map(describeChange)).toContain("create price local_three_year: 725.00 USD per 3 years");
    expect(writes(em)).toBe(0);
    expect((await stripe.prices.list()).data).toEqual([]);
  });

  it("updates an endpoint with the wrong events instead of making a second one, and replaces one on another API version", async () => {
    const { stripe } = await fresh();
    const url = "https://billing.example.com/webhooks/stripe";
    const wrong = await stripe.webhookEndpoints.create({ url, enabled_events: ["customer.created", "charge.succeeded"], api_version: Stripe.API_VERSION });
    const result = await runSetup(stripe, options());
    expect(result.plan.changes.find((c) => c.kind === "update_webhook_endpoint")).toMatchObject({ id: wrong.id, removed: ["charge.succeeded"] });
    expect(result.secret).toBeNull();
    const after = (await stripe.webhookEndpoints.list()).data;
    expect(after.map((e) => e.id)).toEqual([wrong.id]);
    expect([...after[0]!.enabled_events].sort()).toEqual([...HANDLED_EVENT_TYPES].sort());

    await stripe.webhookEndpoints.del(wrong.id);
    const old = await stripe.webhookEndpoints.create({ url, enabled_events: [...HANDLED_EVENT_TYPES], api_version: "2024-06-20" });
    const replaced = await runSetup(stripe, options());
    expect(replaced.plan.changes).toEqual([expect.objectContaining({ kind: "replace_webhook_endpoint", id: old.id })]);
    const now = (await stripe.webhookEndpoints.list()).data;
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ api_version: Stripe.API_VERSION });
    expect(replaced.secret?.kind).toBe("wrangler");
  });

  it("writes a local endpoint's secret into .dev.vars, keeping the other lines, and makes it again when the secret is lost", async () => {
    const { stripe } = await fresh();
    const devVars = path.join(dir, "local.dev.vars");
    writeFileSync(devVars, "ENVIRONMENT=development\nSTRIPE_WEBHOOK_SECRETS=whsec_replace_me\nOTHER=1\n");
    const local = { webhookUrl: "http://127.0.0.1:8787/webhooks/stripe", devVars };
    const first = await runSetup(stripe, options(local));
    expect(first.secret).toEqual({ kind: "dev_vars", path: devVars });
    const text = readFileSync(devVars, "utf8");
    expect(text).toMatch(/^ENVIRONMENT=development\nSTRIPE_WEBHOOK_SECRETS=whsec_\w+\nOTHER=1\n$/);
    expect((await runSetup(stripe, options(local))).plan.changes).toEqual([]);
    writeFileSync(devVars, "OTHER=1\n");
    const again = await runSetup(stripe, options(local));
    expect(again.plan.changes).toEqual([expect.objectContaining({ kind: "replace_webhook_endpoint", reason: "its signing secret is not in .dev.vars" })]);
    expect(readFileSync(devVars, "utf8")).toMatch(/^OTHER=1\nSTRIPE_WEBHOOK_SECRETS=whsec_\w+\n$/);
    expect((await stripe.webhookEndpoints.list()).data).toHaveLength(1);
  });

  it("turns the portal's plan changes on between the catalog's prices when policy says so", async () => {
    const { em, stripe } = await fresh();
    const open: Catalog = structuredClone(catalog);
    open.policy.portal = { ...open.policy.portal, plan_changes: true, cancellation: true };
    await runSetup(stripe, options({ catalog: open }));
    const [portal] = (await stripe.billingPortal.configurations.list({ is_default: true })).data;
    const prices = await catalogPrices(stripe);
    expect(portal!.features.subscription_cancel).toMatchObject({ enabled: true, mode: "at_period_end" });
    expect(portal!.features.subscription_update).toMatchObject({ enabled: true, default_allowed_updates: ["price"], proration_behavior: "always_invoice" });
    const listed = (portal!.features.subscription_update.products ?? []).flatMap((p) => p.prices).sort();
    // A person's tiers only: an agency's seats are not theirs to switch to.
    expect(listed).toEqual(
      individualTiers(catalog)
        .flatMap((t) => t.prices.map((p) => prices[p.lookupKey]!.id))
        .sort(),
    );
    const before = writes(em);
    expect((await runSetup(stripe, options({ catalog: open }))).plan.changes).toEqual([]);
    expect(writes(em)).toBe(before);
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve, reject) => {
    // What `tsx scripts/stripe-setup.ts` runs, without the tsx CLI's own Node process in front of it.
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "stripe-setup.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("npm run stripe:setup (the CLI)", () => {
  it("provisions the emulator at STRIPE_API_BASE, prints the secret command once, then says nothing to change", async () => {
    const { em } = await fresh();
    const env = { STRIPE_SECRET_KEY: KEY, STRIPE_API_BASE: em.url, ENVIRONMENT: "test" };
    const first = await cli(["--webhook-url", "https://billing.example.com/webhooks/stripe"], env);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("create price local_monthly");
    expect(first.stdout).toMatch(/printf '%s' 'whsec_\w+' \| npx wrangler secret put STRIPE_WEBHOOK_SECRETS/);
    const before = writes(em);
    const second = await cli(["--webhook-url", "https://billing.example.com/webhooks/stripe", "--json"], env);
    expect(second.code).toBe(0);
    const report: { nothing_to_change: boolean; changes: unknown[]; webhook_secret: unknown } = JSON.parse(second.stdout);
    expect(report).toMatchObject({ nothing_to_change: true, changes: [], webhook_secret: null });
    expect(writes(em)).toBe(before);
    const dry = await cli(["--dry-run"], env);
    expect(dry.stdout).toMatch(/nothing to change/i);
  });

  it("bad input is one clear line on stderr and exit status 2, never a stack trace", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const url = ["--webhook-url", "https://billing.example.com/webhooks/stripe"];
    const cases: Array<{ args: string[]; env: Record<string, string>; says: RegExp }> = [
      { args: url, env: {}, says: /STRIPE_SECRET_KEY is not set/ },
      { args: url, env: { STRIPE_SECRET_KEY: "sk_live_abc123", ENVIRONMENT: "development" }, says: /live Stripe key while ENVIRONMENT is development/ },
      { args: url, env: { STRIPE_SECRET_KEY: KEY, STRIPE_API_BASE: unreachable, ENVIRONMENT: "test" }, says: /cannot reach Stripe at http:\/\/127\.0\.0\.1:\d+/ },
      {
        args: ["--webhook-url", "billing.example.com/hooks"],
        env: { STRIPE_SECRET_KEY: KEY, STRIPE_API_BASE: unreachable, ENVIRONMENT: "test" },
        says: /--webhook-url "billing.example.com\/hooks" is not a URL/,
      },
      { args: ["--webhook-url", "http://billing.example.com/webhooks/stripe"], env: { STRIPE_SECRET_KEY: KEY, ENVIRONMENT: "test" }, says: /must use https/ },
      { args: ["--frobnicate"], env: { STRIPE_SECRET_KEY: KEY, ENVIRONMENT: "test" }, says: /Unknown option '--frobnicate'/ },
    ];
    const runs = await Promise.all(cases.map((c) => cli(c.args, c.env)));
    runs.forEach((run, i) => {
      const lines = run.stderr.trimEnd().split("\n");
      expect({ i, code: run.code, lines: lines.length, stdout: run.stdout }).toEqual({ i, code: 2, lines: 1, stdout: "" });
      expect(lines[0]).toMatch(/^stripe:setup: /);
      expect(lines[0]).toMatch(cases[i]!.says);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    });
  });
});

describe("the worker behind the endpoint setup made", () => {
  let worker: WorkerHarness | undefined;
  afterAll(async () => worker?.dispose());

  it("receives only the handled event types with the secret setup wrote, resolves every catalog price, and keeps a subscriber's tier after the price's key moves", async () => {
    const { em, stripe } = await fresh();
    const port = await freePort();
    const devVars = path.join(dir, "worker.dev.vars");
    await runSetup(stripe, options({ webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`, devVars }));
    const secret = /^STRIPE_WEBHOOK_SECRETS=(whsec_\w+)$/m.exec(readFileSync(devVars, "utf8"))?.[1];
    expect(secret).toBeDefined();
    worker = await startWorker({ port, bindings: { STRIPE_API_BASE: em.url, STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRETS: secret! } });

    const customer = await stripe.customers.create({ email: "setup@example.com", metadata: { user_id: "setup_user" } });
    await stripe.products.create({ name: "Not the worker's business" });
    await em.idle();
    await worker.drainQueue();
    const delivered = em.deliveries().filter((d) => d.url === `${worker!.url}/webhooks/stripe`);
    expect(delivered.map((d) => [d.eventType, d.state])).toEqual([["customer.created", "delivered"]]);
    const stored = await worker.db.prepare("select type from stripe_events where id = ?").bind(delivered[0]!.eventId).first<{ type: string }>();
    expect(stored?.type).toBe("customer.created");
    expect(customer.id).toMatch(/^cus_/);

    const res = await worker.request("/v1/catalog");
    const body: { tiers: { prices: { lookup_key: string; stripe_price_id: string | null }[] }[] } = await res.json();
    const ids = body.tiers.flatMap((t) => t.prices);
    // The tiers a person buys; an agency's seat prices are the organizations' (POST /v1/organizations).
    expect(ids.length).toBe(individualTiers(catalog).flatMap((t) => t.prices).length);
    const known = await catalogPrices(stripe);
    for (const p of ids) expect(p.stripe_price_id).toBe(known[p.lookup_key]?.id);

    // A subscriber stays on the price whose amount setup later changes: still the same tier.
    const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: pm.id } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: known.local_monthly!.id }], metadata: { user_id: "setup_user" } });
    const tierOf = async () => {
      await em.idle();
      await worker!.drainQueue();
      const res = await worker!.request("/v1/entitlements/setup_user", { key: worker!.serviceKey });
      return ((await res.json()) as { tier: string | null; status: string }) ?? null;
    };
    expect(await tierOf()).toMatchObject({ tier: "local", status: "active" });
    await runSetup(stripe, options({ catalog: withAmount("local_monthly", 3500), webhookUrl: `http://127.0.0.1:${port}/webhooks/stripe`, devVars }));
    expect((await catalogPrices(stripe)).local_monthly!.id).not.toBe(known.local_monthly!.id);
    await stripe.subscriptions.update(sub.id, { metadata: { note: "synced again after its price was archived" } });
    expect(await tierOf()).toMatchObject({ tier: "local", status: "active" });
  });
});
