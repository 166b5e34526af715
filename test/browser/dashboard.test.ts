/**
 * The revenue dashboard in a real browser (Debian's chromium through playwright-core), on demo
 * data played for real: the Stripe emulator, the worker in workerd (Miniflare, serving
 * wrangler.toml's static assets) and scripts/demo's customers on their own test clocks. A wrong
 * key is refused without saying why; an analyst key signs in into a cookie with its flags; every
 * chart draws; the headline figures are GET /v1/analytics/report's; no console error and no CSP
 * violation. Screenshots go to test/browser/screenshots/ (UPDATE_DOCS_SCREENSHOTS=1 also writes
 * docs/dashboard.png).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RevenueReport } from "../../worker/src/analytics/types.ts";
import { demoWorld, type DemoWorld } from "../harness/demo.ts";
import { ROOT, type WorkerHarness } from "../harness/worker.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_BROWSER = existsSync(CHROMIUM);
const SHOTS = path.join(ROOT, "test/browser/screenshots");
const CUSTOMERS = Number(process.env.DASHBOARD_CUSTOMERS ?? 16);
const COOKIE = "__Host-fja_dashboard";
const CHARTS = ["mrr", "movements", "customers", "trials", "forecast", "cohorts", "funnel"];

let world: DemoWorld;
let worker: WorkerHarness;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let analystKey: string;
let base: string;
const consoleErrors: string[] = [];

/** Dollars as a browser's own Intl writes them: an independent check of the page's formatting. */
const usd = (cents: number) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(cents / 100);

describe.skipIf(!HAVE_BROWSER)(`the revenue dashboard in chromium (${CHROMIUM})`, () => {
  beforeAll(async () => {
    // A fresh clone running only this file still has uPlot in the static assets.
    execFileSync(process.execPath, [path.join(ROOT, "scripts/vendor-assets.mjs")], { stdio: "inherit" });
    mkdirSync(SHOTS, { recursive: true });
    world = await demoWorld({ secretKey: "sk_test_dashboard", customers: CUSTOMERS });
    ({ worker } = world);
    const issues = world.issues;
    expect(issues).toEqual([]);
    analystKey = await worker.createKey("analyst", "dashboard-browser");
    // Chrome keeps a Secure (and __Host-) cookie from plain http on 127.0.0.1 and localhost, as npm start serves it.
    base = worker.url;

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Playwright's init script is exempt from the page's CSP: it reports any violation as an error.
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`));
    });
    page = await context.newPage();
    page.on("console", (m) => {
      // A refused sign-in is answered 401 on purpose; Chrome logs every error status it loads.
      if (m.type() === "error" && !(/status of 401/.test(m.text()) && /\/dashboard\/login$/.test(m.location().url))) consoleErrors.push(`${m.location().url}: ${m.text()}`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await world?.dispose();
  });

  const sessionCookie = async () => (await context.cookies(base)).find((c) => c.name === COOKIE);

  async function signInWith(key: string) {
    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    await page.fill("input[name=key]", key);
    await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
  }

  it("refuses a service key and an unknown key with the same words, and sets no cookie", async () => {
    const said: string[] = [];
    for (const key of [worker.serviceKey, "fja_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
      await signInWith(key);
      expect(new URL(page.url()).pathname).toBe("/dashboard/login");
      said.push((await page.textContent("[role=alert]")) ?? "");
      expect(await sessionCookie()).toBeUndefined();
    }
    expect(said).toEqual(["That key cannot open the dashboard.", "That key cannot open the dashboard."]);
    await page.screenshot({ path: path.join(SHOTS, "dashboard-refused.png") });
  });

  it("signs an analyst in with an HttpOnly, Secure, SameSite=Strict session cookie that expires", async () => {
    await signInWith(analystKey);
    expect(new URL(page.url()).pathname).toBe("/dashboard");
    const cookie = await sessionCookie();
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
    const hours = (cookie!.expires - Date.now() / 1000) / 3600;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    // HttpOnly: the page's own script cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain(COOKIE);
  });

  it("draws every chart on the demo data", async () => {
    await page.waitForFunction((n) => document.querySelectorAll("[data-chart][data-drawn=true]").length >= n, CHARTS.length, { timeout: 15_000 });
    expect(await page.$$eval("[data-chart]", (els) => els.map((e) => (e as HTMLElement).dataset.chart))).toEqual(expect.arrayContaining(CHARTS));
    for (const id of CHARTS) {
      // Painted pixels of the chart's canvases: axes, grid and data all count, an empty canvas is 0.
      const painted = await page.$eval(`[data-chart=${id}]`, (el) =>
        [...el.querySelectorAll("canvas")].reduce((n, c) => {
          const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
          return n;
        }, 0),
      );
      expect(painted, id).toBeGreaterThan(2_000);
    }
    await page.screenshot({ path: path.join(SHOTS, "dashboard.png"), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, "docs/dashboard.png"), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1420 } });
  });

  it("shows the headline figures and the MRR series of GET /v1/analytics/report", async () => {
    const chart = JSON.parse((await page.textContent("#dashboard-data"))!) as { periods: string[]; mrr: number[]; customers: number[] };
    const res = await worker.request(`/v1/analytics/report?period=monthly&from=${chart.periods[0]}&to=${chart.periods.at(-1)}`, { key: analystKey });
    expect(res.status).toBe(200);
    const report = (await res.json()) as RevenueReport;
    expect(report.current.mrr).toBeGreaterThan(0);
    const shown = Object.fromEntries(
      await page.$$eval("[data-metric]", (els) => els.map((e) => [(e as HTMLElement).dataset.metric!, { value: Number((e as HTMLElement).dataset.value), text: e.textContent!.trim() }])),
    );
    expect(shown).toEqual({
      mrr: { value: report.current.mrr, text: usd(report.current.mrr) },
      arr: { value: report.current.arr, text: usd(report.current.arr) },
      customers: { value: report.current.customers, text: report.current.customers.toLocaleString("en-US") },
      arpu: { value: report.current.arpu, text: usd(report.current.arpu) },
      trialing: { value: report.current.trialing, text: String(report.current.trialing) },
      past_due: { value: report.current.past_due, text: String(report.current.past_due) },
      agencies: { value: report.current.seats.organizations, text: String(report.current.seats.organizations) },
      seats: { value: report.current.seats.sold, text: `${report.current.seats.sold.toLocaleString("en-US")} (${report.current.seats.assigned.toLocaleString("en-US")})` },
    });
    expect(chart.mrr).toEqual(report.rows.map((r) => r.closing_mrr));
    expect(chart.customers).toEqual(report.rows.map((r) => r.customers));
  });

  it("shows each month's refunds, disputes, dispute rate and early fraud warnings as GET /v1/analytics/report has them", async () => {
    const chart = JSON.parse((await page.textContent("#dashboard-data"))!) as { periods: string[] };
    const res = await worker.request(`/v1/analytics/report?period=monthly&from=${chart.periods[0]}&to=${chart.periods.at(-1)}`, { key: analystKey });
    const report = (await res.json()) as RevenueReport;
    const shown = await page.$$eval("table.after-charge tbody tr", (trs) =>
      trs.map((tr) => ({
        period: (tr as HTMLElement).dataset.period,
        ...Object.fromEntries([...tr.querySelectorAll("[data-figure]")].map((td) => [(td as HTMLElement).dataset.figure!, { value: (td as HTMLElement).dataset.value, text: td.textContent!.trim() }])),
      })),
    );
    expect(shown).toEqual(
      report.rows.map((r) => ({
        period: r.period,
        refunded: { value: String(r.refunded), text: usd(r.refunded) },
        disputes_opened: { value: String(r.disputes_opened), text: String(r.disputes_opened) },
        disputes_lost: { value: String(r.disputes_lost), text: String(r.disputes_lost) },
        dispute_rate: { value: r.dispute_rate === null ? "" : String(r.dispute_rate), text: r.dispute_rate === null ? "n/a" : `${(r.dispute_rate * 100).toFixed(2)} %` },
        dispute_fees: { value: String(r.dispute_fees), text: usd(r.dispute_fees) },
        early_fraud_warnings: { value: String(r.early_fraud_warnings), text: String(r.early_fraud_warnings) },
      })),
    );
    // The demo's months have charges, so each has a rate (0 without disputes), not n/a.
    expect(report.rows.some((r) => r.dispute_rate !== null)).toBe(true);
  });

  it("shows a progress bar with its projected month for each target, the churn-risk list and recent events", async () => {
    const targets = await page.$$eval("[data-target]", (els) =>
      els.map((e) => ({ key: (e as HTMLElement).dataset.target, progress: Number(e.querySelector("progress")!.value), projected: e.querySelector(".projected")!.textContent })),
    );
    expect(targets.map((t) => t.key).sort()).toEqual(["first_year_revenue", "monthly_churn", "mrr", "paying_customers", "trial_conversion"]);
    for (const t of targets) {
      expect(t.progress).toBeGreaterThanOrEqual(0);
      expect(t.progress).toBeLessThanOrEqual(1);
      expect(t.projected).toMatch(/^(Reached|Projected \d{4}-\d{2}|Not within the 12-month forecast)$/);
    }
    const res = await worker.request("/v1/analytics/churn-risk?limit=20", { key: analystKey });
    expect(res.status).toBe(200);
    const risk = (await res.json()) as { customers: { user_id: string | null; customer_id: string }[] };
    expect(await page.$$eval("table.risk tbody tr td:first-child", (tds) => tds.map((td) => td.textContent))).toEqual(risk.customers.map((c) => c.user_id ?? c.customer_id));
    expect(await page.locator("table.recent tbody tr").count()).toBeGreaterThan(0);
  });

  it("signs out: the cookie is gone and the dashboard asks for a key again", async () => {
    await Promise.all([page.waitForURL(`${base}/dashboard/login`), page.click("form[action='/dashboard/logout'] button")]);
    expect(await sessionCookie()).toBeUndefined();
    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
  });

  it("logged no console error and no CSP violation on any page", () => {
    expect(consoleErrors).toEqual([]);
  });
});
