/**
 * An organization's invoices carry sales tax when its billing address is taxed (Stripe Tax, as
 * individual Checkout): the first term's invoice, the prorated invoice of added seats with the
 * preview it must equal, and the renewal's invoice with its preview. MRR counts the seats' price
 * before tax. The worker suite's emulator taxes US-CA at 7.25 % (global-setup.ts), as npm start's does.
 */
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeKey } from "./helpers";
import { buyOrganization, seatsPreviewOnDay, type OrganizationWire } from "./organization-term-helpers";
import { stripe, testClock } from "./stripe-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

const CALIFORNIA = { line1: "1315 10th St", city: "Sacramento", state: "CA", postal_code: "95814", country: "US" };
const month = new Date().toISOString().slice(0, 7);
const mrr = async () => (await (await call("GET", `/v1/analytics/report?period=monthly&from=${month}&to=${month}`, { key: analyst })).json<{ current: { mrr: number } }>()).current.mrr;

describe("an organization's sales tax", () => {
  it("in a taxed state: the first invoice is 975,000 cents plus the state's tax on it, and MRR counts the 975,000 only", async () => {
    const before = await mrr();
    const { org } = await buyOrganization(service, { address: CALIFORNIA });
    const inv = await stripe().invoices.retrieve(org.invoices[0]!.id);
    // 7.25 % of 975,000 is 70,687.5: 70,688 rounded half up.
    expect([inv.subtotal, inv.total_taxes?.reduce((a, t) => a + t.amount, 0), inv.total, inv.amount_due, inv.attempted]).toEqual([975_000, 70_688, 1_045_688, 1_045_688, false]);
    expect(org.invoices[0]!.amount_due).toBe(1_045_688);
    // 975,000 ÷ 12, tax excluded.
    expect((await mrr()) - before).toBe(81_250);
  });

  it("in a state without sales tax: no tax, the invoice is the seats' price", async () => {
    const { org } = await buyOrganization(service, { seats: 2 });
    const inv = await stripe().invoices.retrieve(org.invoices[0]!.id);
    expect([inv.subtotal, inv.total_taxes ?? [], inv.total, inv.amount_due]).toEqual([78_000, [], 78_000, 78_000]);
  });

  it("an agency exempt from sales tax in a taxed state: its Stripe customer is exempt, its invoice carries no tax, and the organization says so", async () => {
    const { orgId, org, row } = await buyOrganization(service, { address: CALIFORNIA, seats: 2, tax_exempt: true });
    expect((await stripe().customers.retrieve(row.customerId!)) as Stripe.Customer).toMatchObject({ tax_exempt: "exempt" });
    const inv = await stripe().invoices.retrieve(org.invoices[0]!.id);
    expect([inv.subtotal, inv.total_taxes ?? [], inv.total, inv.amount_due]).toEqual([78_000, [], 78_000, 78_000]);
    const view = await (await call("GET", `/v1/organizations/${orgId}`, { key: analyst })).json<OrganizationWire>();
    expect([org.tax_exempt, view.tax_exempt]).toEqual([true, true]);
    expect((await buyOrganization(service, { address: CALIFORNIA, seats: 2 })).org.tax_exempt).toBe(false);
  });

  it("five more seats on day 100 in a taxed state: the prorated invoice and Stripe's preview both include the tax, and a pre-tax expected amount is a 409", async () => {
    const { orgId, preview } = await seatsPreviewOnDay(service, 100, 30, { address: CALIFORNIA });
    // 141,575 for 5 seats over 265 of 365 days, and 7.25 % of it (10,264.19) on top.
    expect([preview.subtotal, preview.amount_due]).toEqual([141_575, 151_839]);
    const stale = await call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body: { seats: 30, expected_amount_due_now: 141_575 } });
    expect(stale.status).toBe(409);

    const res = await call("POST", `/v1/organizations/${orgId}/seats`, { key: service, body: { seats: 30, expected_amount_due_now: preview.amount_due } });
    expect(res.status, await res.clone().text()).toBe(200);
    const change = await res.json<{ amount_due_now: number; invoice: { id: string; amount_due: number } }>();
    expect([change.amount_due_now, change.invoice.amount_due]).toEqual([151_839, 151_839]);
    const inv = await stripe().invoices.retrieve(change.invoice.id);
    expect([inv.subtotal, inv.total]).toEqual([141_575, 151_839]);
  });

  it("a renewal in a taxed state: its preview and the next term's invoice both include the tax", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { address: CALIFORNIA, seats: 10, test_clock: clock.id });
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });
    const res = await call("POST", `/v1/organizations/${orgId}/renew`, { key: service, body: {} });
    expect(res.status, await res.clone().text()).toBe(200);
    // 10 × 39,000 and 7.25 % of it, 28,275.
    expect((await res.json<{ invoice: { amount_due: number } }>()).invoice.amount_due).toBe(418_275);

    await clock.advanceTo(row.termEnd! + 3_600_000);
    const next = (await stripe().invoices.list({ customer: row.customerId! })).data[0]!;
    expect([next.subtotal, next.total, next.amount_due, next.status]).toEqual([390_000, 418_275, 418_275, "open"]);
  });

  it("a renewal of an organization whose subscription is not taxed stays untaxed, in a taxed state too", async () => {
    const clock = await testClock();
    const { orgId, org, row } = await buyOrganization(service, { address: CALIFORNIA, seats: 10, test_clock: clock.id });
    await stripe().invoices.pay(org.invoices[0]!.id, { paid_out_of_band: true });
    await stripe().subscriptions.update(row.subscriptionId!, { automatic_tax: { enabled: false } });
    const res = await call("POST", `/v1/organizations/${orgId}/renew`, { key: service, body: {} });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await res.json<{ invoice: { amount_due: number } }>()).invoice.amount_due).toBe(390_000);

    await clock.advanceTo(row.termEnd! + 3_600_000);
    const next = (await stripe().invoices.list({ customer: row.customerId! })).data[0]!;
    expect([next.subtotal, next.total, next.amount_due, next.status]).toEqual([390_000, 390_000, 390_000, "open"]);
  });
});
