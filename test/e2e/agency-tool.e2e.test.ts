/**
 * Issue 25's agent tool, against the system `npm start` runs (the emulator provisioned by
 * stripe:setup's code, the worker in workerd with its queue and signed webhooks, all over HTTP):
 * an agent buys an agency's seats with create_subscription's organization form, and the
 * organization's first invoice is in Stripe, sent on net terms with the PO number, never charged;
 * a retry with the same Idempotency-Key makes nothing more.
 */
import type Stripe from "stripe";
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
  system = await startSystem({ secretKey: "sk_test_agency_tool" });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

interface Bought {
  outcome: string;
  organization: {
    org_id: string;
    seats: number;
    status: string;
    term: { start: string; months: number };
    invoices: { id: string; status: string; amount_due: number; due_date: string; hosted_invoice_url: string }[];
  };
}

describe("an agent buys an agency's seats through create_subscription in the running system", () => {
  it("the organization form over POST /v1/tools/create_subscription: the organization is active, its first invoice is open in Stripe for 4 × $390 due in 30 days with the PO number, never charged; the same Idempotency-Key replays it", async () => {
    const input = {
      organization: {
        org_id: "org_tool_e2e",
        name: "Veterans Transition Office",
        billing_email: "ap@vto.example.gov",
        address: { line1: "810 Vermont Ave NW", city: "Washington", state: "DC", postal_code: "20420", country: "US" },
        po_number: "PO-TOOL-0007",
        seats: 4,
        term_months: 12,
      },
    };
    const buy = () => worker.request("/v1/tools/create_subscription", { method: "POST", key: worker.serviceKey, json: input, headers: { "idempotency-key": "agent-buys-org_tool_e2e" } });
    const res = await buy();
    expect(res.status, await res.clone().text()).toBe(200);
    const bought = (await res.json()) as Bought;
    expect(bought).toMatchObject({ outcome: "organization_created", organization: { org_id: "org_tool_e2e", seats: 4, status: "active", term: { months: 12 } } });
    const [invoice] = bought.organization.invoices;
    const start = Date.parse(bought.organization.term.start);
    expect([bought.organization.invoices.length, invoice!.status, invoice!.amount_due, invoice!.due_date]).toEqual([1, "open", 156_000, new Date(start + 30 * DAY).toISOString()]);

    // The first invoice, as Stripe (the emulator) has it: sent on net terms with the PO number, not attempted.
    const inv = await stripe.invoices.retrieve(invoice!.id);
    expect([inv.status, inv.collection_method, inv.amount_due, inv.attempted, inv.amount_paid]).toEqual(["open", "send_invoice", 156_000, false, 0]);
    expect(inv.custom_fields).toContainEqual({ name: "PO number", value: "PO-TOOL-0007" });
    const customer = inv.customer as string;
    expect((await stripe.customers.retrieve(customer)) as Stripe.Customer).toMatchObject({ email: "ap@vto.example.gov", metadata: { org_id: "org_tool_e2e" } });
    expect((await stripe.invoices.list({ customer })).data.map((i) => i.id)).toEqual([invoice!.id]);
    expect((await stripe.charges.list({ customer })).data).toEqual([]);
    expect(await (await fetch(invoice!.hosted_invoice_url)).text()).toContain("PO-TOOL-0007");

    // An agent retrying after a timeout: the same answer, replayed, and nothing new in Stripe.
    const again = await buy();
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(await again.json()).toEqual(bought);
    expect((await stripe.customers.search({ query: "metadata['org_id']:'org_tool_e2e'" })).data.map((c) => c.id)).toEqual([customer]);

    // Stripe's webhooks reach the worker and the organization reads the same through the REST route.
    await system.settle();
    const read = await worker.request("/v1/organizations/org_tool_e2e", { key: worker.adminKey });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(bought.organization);
    expect(emulator.deliveries().every((d) => d.state === "delivered")).toBe(true);
  });
});
