/**
 * Issue 25's acceptance for agencies, against the system `npm start` runs: the emulator
 * provisioned by `npm run stripe:setup`'s code (the agency's seat prices among the catalog's),
 * the worker in workerd with its real queue receiving signed webhooks, everything over HTTP. An
 * agency buys 25 seats for 12 months: one invoice of 25 × $390, due in 30 days, showing its PO
 * number, with no charge attempt; MRR rises by 975,000 / 12; 25 members get seats and the 26th
 * is refused; a released seat is free again at once and its user's online check falls back at once.
 * An agency in a taxed state gets the state's tax on its invoice, and MRR counts the price before it.
 */
import type Stripe from "stripe";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  // California taxed at 7.25 %, as npm start's emulator (scripts/start.ts).
  system = await startSystem({ secretKey: "sk_test_agency", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

async function api(method: string, path: string, opts: { json?: unknown; key?: string } = {}): Promise<Response> {
  return worker.request(path, { method, key: opts.key ?? worker.serviceKey, ...(opts.json !== undefined ? { json: opts.json } : {}) });
}

async function ok<T>(res: Response, status = 200): Promise<T> {
  if (res.status !== status) throw new Error(`HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

interface Organization {
  org_id: string;
  seats: number;
  seats_assigned: number;
  term: { start: string; end: string; months: number };
  renewal: string;
  status: string;
  po_number: string;
  invoices: { id: string; number: string | null; status: string; amount_due: number; currency: string; due_date: string; hosted_invoice_url: string }[];
}

const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);
const current = async (at: number) =>
  (
    await ok<{ current: { mrr: number; customers: number; by_tier: Record<string, { customers: number; mrr: number }> } }>(
      await api("GET", `/v1/analytics/report?period=monthly&from=${month(at)}&to=${month(at)}`, { key: worker.adminKey }),
    )
  ).current;
const mrr = async (at: number) => (await current(at)).mrr;

describe("an agency buys seats in the running system", () => {
  it("25 seats for 12 months: one invoice of 975,000 cents due in 30 days with the PO number, no charge attempt, MRR up 81,250; 25 members, the 26th refused; a released seat is free at once and its user falls back at once", async () => {
    const now = Date.now();
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(now / 1000) });
    const before = await mrr(now);

    const org = await ok<Organization>(
      await api("POST", "/v1/organizations", {
        json: {
          org_id: "org_opt",
          name: "Office of Personnel Transition",
          billing_email: "ap@opt.example.gov",
          address: { line1: "1900 E St NW", city: "Washington", state: "DC", postal_code: "20415", country: "US" },
          tax_id: "12-3456789",
          po_number: "PO-2026-0042",
          seats: 25,
          term_months: 12,
          test_clock: clock.id,
        },
      }),
      201,
    );
    expect(org).toMatchObject({ org_id: "org_opt", seats: 25, seats_assigned: 0, renewal: "manual", status: "active", po_number: "PO-2026-0042", term: { months: 12 } });
    const start = Date.parse(org.term.start);
    const end = new Date(start);
    end.setUTCFullYear(end.getUTCFullYear() + 1);
    expect(org.term.end).toBe(end.toISOString());
    const [invoice] = org.invoices;
    expect([org.invoices.length, invoice!.status, invoice!.amount_due, invoice!.currency, invoice!.due_date]).toEqual([1, "open", 975_000, "usd", new Date(start + 30 * DAY).toISOString()]);

    // In Stripe: sent on net terms with the PO number, never attempted, nothing charged.
    const inv = await stripe.invoices.retrieve(invoice!.id);
    expect([inv.collection_method, inv.attempted, inv.next_payment_attempt, inv.amount_paid]).toEqual(["send_invoice", false, null, 0]);
    expect(inv.custom_fields).toContainEqual({ name: "PO number", value: "PO-2026-0042" });
    const customer = inv.customer as string;
    expect((await stripe.paymentIntents.list({ customer })).data).toEqual([]);
    expect((await stripe.charges.list({ customer })).data).toEqual([]);
    // The page the agency's payment office reads shows the PO number and the due date.
    const page = await (await fetch(invoice!.hosted_invoice_url)).text();
    expect(page).toContain("PO-2026-0042");

    // Stripe's events reach the worker; the mirror counts the seats: 975,000 / 12 a month.
    await system.settle();
    expect((await mrr(now)) - before).toBe(81_250);
    // The organization counts as one customer of the agency tier.
    expect((await current(now)).by_tier.agency).toEqual({ customers: 1, mrr: 81_250 });

    const users = Array.from({ length: 26 }, (_, i) => `user_agency_${i + 1}`);
    for (const u of users.slice(0, 25)) await ok(await api("PUT", `/v1/organizations/org_opt/members/${u}`));
    const refused = await api("PUT", `/v1/organizations/org_opt/members/${users[25]}`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(await refused.json()).toMatchObject({ type: "https://federaljobadvisor.com/problems/seats-exhausted", seats: 25, seats_assigned: 25 });
    expect((await ok<Organization>(await api("GET", "/v1/organizations/org_opt"))).seats_assigned).toBe(25);

    // A seat holder: agency with the org_id, online and in the token.
    const holder = users[0]!;
    expect(await ok(await api("POST", "/v1/entitlements/check", { json: { user_id: holder, feature: "mobile_app" } }))).toMatchObject({ allowed: true, reason: "included" });
    const { token } = await ok<{ token: string }>(await api("POST", "/v1/entitlements/token", { json: { user_id: holder } }));
    expect(decodeJwt(token)).toMatchObject({ sub: holder, tier: "agency", org_id: "org_opt" });

    // Released: the holder's online check falls back at once, and the seat is free for the 26th.
    expect((await api("DELETE", `/v1/organizations/org_opt/members/${holder}`)).status).toBe(204);
    expect(await ok(await api("POST", "/v1/entitlements/check", { json: { user_id: holder, feature: "mobile_app" } }))).toMatchObject({ allowed: false, reason: "no_subscription" });
    expect(await ok(await api("PUT", `/v1/organizations/org_opt/members/${users[25]}`))).toMatchObject({ org_id: "org_opt", user_id: users[25] });
    expect(await ok(await api("POST", "/v1/entitlements/check", { json: { user_id: users[25], feature: "mobile_app" } }))).toMatchObject({ allowed: true });

    // The agency pays by ACH: recorded, the invoice is paid without a charge, and the seats stay.
    const payment = await ok<{ amount: number; method: string }>(
      await api("POST", `/v1/organizations/org_opt/invoices/${invoice!.id}/payments`, { json: { method: "ach", reference: "ACH-TRACE-021000021000042" } }),
      201,
    );
    expect(payment).toMatchObject({ amount: 975_000, method: "ach" });
    await system.settle();
    expect((await ok<Organization>(await api("GET", "/v1/organizations/org_opt"))).invoices.map((i) => i.status)).toEqual(["paid"]);
    expect((await stripe.charges.list({ customer })).data).toEqual([]);
    expect(await ok(await api("POST", "/v1/entitlements/check", { json: { user_id: users[1], feature: "mobile_app" } }))).toMatchObject({ allowed: true });
    expect(emulator.deliveries().every((d) => d.state === "delivered")).toBe(true);
  });

  it("an agency in California: its invoice is the seats' price plus 7.25 % tax, MRR rises by the price before tax, and its payment recorded is the taxed total", async () => {
    const now = Date.now();
    const before = await mrr(now);
    const org = await ok<Organization>(
      await api("POST", "/v1/organizations", {
        json: {
          org_id: "org_calhr",
          name: "California Department of Human Resources",
          billing_email: "ap@calhr.example.gov",
          address: { line1: "1515 S St", city: "Sacramento", state: "CA", postal_code: "95811", country: "US" },
          po_number: "PO-CA-0007",
          seats: 4,
          term_months: 12,
        },
      }),
      201,
    );
    const invoice = org.invoices[0]!;
    // 4 × 39,000 = 156,000, and 7.25 % of it, 11,310.
    expect(invoice.amount_due).toBe(167_310);
    const inv = await stripe.invoices.retrieve(invoice.id);
    expect([inv.subtotal, inv.total, inv.attempted]).toEqual([156_000, 167_310, false]);
    await system.settle();
    expect((await mrr(now)) - before).toBe(13_000);
    const payment = await ok<{ amount: number }>(await api("POST", `/v1/organizations/org_calhr/invoices/${invoice.id}/payments`, { json: { method: "treasury", reference: "IPAC-2026-77" } }), 201);
    expect(payment.amount).toBe(167_310);
  });

  it("a tax-exempt agency in California pays no tax; an address whose ZIP code is another state's is a 400 naming address and leaves nothing", async () => {
    const body = (orgId: string, extra: Record<string, unknown>) => ({
      org_id: orgId,
      name: "Federal Executive Board, Sacramento",
      billing_email: "ap@feb.example.gov",
      address: { line1: "650 Capitol Mall", city: "Sacramento", state: "CA", postal_code: "95814", country: "US" },
      seats: 2,
      term_months: 12,
      ...extra,
    });
    const exempt = await ok<Organization & { tax_exempt: boolean }>(await api("POST", "/v1/organizations", { json: body("org_feb_exempt", { tax_exempt: true }) }), 201);
    expect([exempt.tax_exempt, exempt.invoices[0]!.amount_due]).toEqual([true, 78_000]);
    const refused = await api("POST", "/v1/organizations", {
      json: body("org_feb_zip", { address: { line1: "650 Capitol Mall", city: "Sacramento", state: "CA", postal_code: "20415", country: "US" } }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(["body.address"]);
    expect((await api("GET", "/v1/organizations/org_feb_zip")).status).toBe(404);
  });
});
