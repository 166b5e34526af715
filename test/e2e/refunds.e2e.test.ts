/**
 * Issue 26's refund acceptance, against the system `npm start` runs: the worker in workerd with its
 * real queue, the Stripe emulator over HTTP sending signed webhooks as they happen, customers on a
 * test clock. A full refund of a monthly Mobile invoice through the API gives one credit note and
 * one refund in Stripe, ends access, takes 4900 off MRR and shows on the invoice; the same refund
 * made through Stripe's API (the dashboard's way) has the same effect once its webhooks arrive.
 * Each refund reaches a receiver on loopback as an outbound `refund.created`, in the shape of
 * GET /v1/refunds, verified with the `standardwebhooks` package (the spec's reference implementation).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../examples/job-board/src/index.ts";
import { money } from "../../examples/job-board/src/views.ts";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;
const ORIGIN = "http://127.0.0.1:3000";

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;
let receiver: Server;
let receiverUrl: string;
/** What the outbound webhooks' receiver got: each request's body and headers. */
const received: { body: string; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/refunds`;
  // As npm start starts and provisions it.
  system = await startSystem({ secretKey: "sk_test_refunds_e2e", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

const settle = () => system.settle();

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

async function api<T>(method: string, path: string, json?: unknown, headers?: Record<string, string>, key = worker.serviceKey): Promise<{ status: number; body: T }> {
  const res = await worker.request(path, { method, key, ...(json !== undefined ? { json } : {}), ...(headers ? { headers } : {}) });
  return { status: res.status, body: (await res.json()) as T };
}

async function signUp(userId: string, clock: string) {
  const session = await api<{ session_id: string }>("POST", "/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "mobile", test_clock: clock });
  expect(session.status).toBe(201);
  const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.body.session_id}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Refunded Subscriber", "address[country]": "US", "address[state]": "VA", "address[postal_code]": "22201" }).toString(),
  });
  expect(paid.status).toBe(200);
  const { customer, subscription } = await stripe.checkout.sessions.retrieve(session.body.session_id);
  return { userId, customerId: customer as string, subId: subscription as string };
}

const mrr = async () => (await api<{ current: { mrr: number } }>("GET", "/v1/analytics/report", undefined, undefined, worker.adminKey)).body.current.mrr;

/** Access as the API answers it: the online entitlement and a check of a Mobile feature. */
async function access(userId: string) {
  const online = await api<{ status: string }>("GET", `/v1/entitlements/${userId}`);
  const check = await api<{ allowed: boolean }>("POST", "/v1/entitlements/check", { user_id: userId, feature: "local_job_search" });
  return { status: online.body.status, allowed: check.body.allowed };
}

async function paidInvoice(subId: string) {
  const invoice = await stripe.invoices.retrieve(String((await stripe.subscriptions.retrieve(subId)).latest_invoice));
  expect(invoice).toMatchObject({ status: "paid", currency: "usd" });
  const payment = (await stripe.invoicePayments.list({ invoice: invoice.id })).data[0]!;
  const charge = String((await stripe.paymentIntents.retrieve(String(payment.payment.payment_intent))).latest_charge);
  return { invoice, charge };
}

async function invoiceView(userId: string, invoiceId: string) {
  const page = await api<{ data: { id: string; amount_paid: number; amount_credited: number }[] }>("GET", `/v1/invoices?user_id=${userId}`);
  return page.body.data.find((i) => i.id === invoiceId);
}

describe("refunds in the running system", () => {
  it("a full refund of a monthly Mobile invoice, through the API or through Stripe, ends access, takes 4900 off MRR and shows on the invoice", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const run = Date.now().toString(36);
    // The demo app's users are `demo_<name>`: the one refunded through the API signs in there afterwards.
    const viaApi = await signUp(`demo_refund_api_${run}`, clock.id);
    const viaStripe = await signUp(`refund_stripe_${run}`, clock.id);
    await settle();
    const trialEnd = (await stripe.subscriptions.retrieve(viaApi.subId)).trial_end! * 1000;
    await advanceTo(clock.id, trialEnd + 3 * DAY);
    const paying = { status: "active", allowed: true };
    expect(await access(viaApi.userId)).toEqual(paying);
    expect(await access(viaStripe.userId)).toEqual(paying);
    const before = await mrr();
    expect(before).toBeGreaterThanOrEqual(2 * 4900);
    const hook = await api<{ secret: string }>("POST", "/v1/webhook-endpoints", { url: receiverUrl, events: ["refund.created"] }, undefined, worker.adminKey);
    expect(hook.status).toBe(201);
    /** The refund.created events the receiver got for a user, each verified under the endpoint's secret. */
    const wh = new Webhook(hook.body.secret);
    const refundEventsOf = (userId: string) =>
      received
        .map(
          (r) =>
            wh.verify(r.body, { "webhook-id": r.headers["webhook-id"]!, "webhook-timestamp": r.headers["webhook-timestamp"]!, "webhook-signature": r.headers["webhook-signature"]! }) as {
              type: string;
              data: { user_id: string };
            },
        )
        .filter((e) => e.data.user_id === userId);

    // Through the API; more than was paid first, which changes nothing.
    const a = await paidInvoice(viaApi.subId);
    const tooMuch = await api<{ code: string; errors: { field: string }[] }>("POST", "/v1/refunds", { invoice_id: a.invoice.id, amount: a.invoice.amount_paid + 1, reason: "requested_by_customer" });
    expect([tooMuch.status, tooMuch.body.code, tooMuch.body.errors.map((e) => e.field)]).toEqual([422, "refund_exceeds_paid", ["body.amount"]]);
    expect((await stripe.creditNotes.list({ invoice: a.invoice.id })).data).toEqual([]);
    expect((await stripe.charges.retrieve(a.charge)).amount_refunded).toBe(0);
    expect(await access(viaApi.userId)).toEqual(paying);
    const refunded = await api<{ id: string; amount: number; credit_note_id: string; status: string }>(
      "POST",
      "/v1/refunds",
      { invoice_id: a.invoice.id, reason: "requested_by_customer" },
      { "idempotency-key": `e2e-${run}` },
    );
    expect(refunded.status).toBe(201);
    expect(refunded.body).toMatchObject({ amount: a.invoice.amount_paid, status: "succeeded" });
    await settle();
    expect((await stripe.creditNotes.list({ invoice: a.invoice.id })).data.map((n) => n.id)).toEqual([refunded.body.credit_note_id]);
    expect((await stripe.refunds.list({ charge: a.charge })).data.map((r) => r.id)).toEqual([refunded.body.id]);
    expect((await stripe.subscriptions.retrieve(viaApi.subId)).status).toBe("canceled");
    expect(await access(viaApi.userId)).toEqual({ status: "canceled", allowed: false });
    expect(await mrr()).toBe(before - 4900);
    expect(await invoiceView(viaApi.userId, a.invoice.id)).toMatchObject({ amount_paid: a.invoice.amount_paid, amount_credited: a.invoice.amount_paid });
    // The refund reached the receiver once, as refund.created in the API's shape of it.
    await vi.waitFor(() => expect(refundEventsOf(viaApi.userId)).toHaveLength(1), { timeout: 15_000, interval: 50 });
    const apiListed = await api<{ data: unknown[] }>("GET", `/v1/refunds?user_id=${viaApi.userId}`);
    expect(refundEventsOf(viaApi.userId)).toEqual([{ type: "refund.created", timestamp: expect.any(String), data: { user_id: viaApi.userId, refund: apiListed.body.data[0] } }]);
    expect(apiListed.body.data[0]).toMatchObject({ id: refunded.body.id, amount: a.invoice.amount_paid, credit_note_id: refunded.body.credit_note_id });

    // The demo app's billing page lists the refund beside the invoice it credits.
    const app = createApp({ billingUrl: worker.url, serviceKey: worker.serviceKey, issuer: worker.issuer, audience: worker.audience, origin: ORIGIN, sessionSecret: "refunds-e2e-session-secret" });
    const signIn = await app.request(`${ORIGIN}/signin`, {
      method: "POST",
      body: new URLSearchParams({ name: `refund api ${run}` }),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      redirect: "manual",
    });
    expect(signIn.status).toBe(303);
    const billingPage = await (await app.request(`${ORIGIN}/billing`, { headers: { cookie: signIn.headers.get("set-cookie")!.split(";")[0]! } })).text();
    const refundsSection = billingPage.slice(billingPage.indexOf("<h2>Refunds</h2>"));
    expect(refundsSection).toContain('<table class="refunds">');
    expect(refundsSection).toContain(money(a.invoice.amount_paid));
    expect(refundsSection).toContain("At your request");
    expect(billingPage.slice(0, billingPage.indexOf("<h2>Refunds</h2>"))).toContain(money(a.invoice.amount_paid));

    // Through Stripe's own API, as the dashboard does it: a credit note refunding the whole invoice.
    const b = await paidInvoice(viaStripe.subId);
    const note = await stripe.creditNotes.create({ invoice: b.invoice.id, amount: b.invoice.amount_paid, refund_amount: b.invoice.amount_paid, reason: "order_change" });
    await settle();
    expect((await stripe.refunds.list({ charge: b.charge })).data).toHaveLength(1);
    expect((await stripe.subscriptions.retrieve(viaStripe.subId)).status).toBe("canceled");
    expect(await access(viaStripe.userId)).toEqual({ status: "canceled", allowed: false });
    expect(await mrr()).toBe(before - 2 * 4900);
    expect(await invoiceView(viaStripe.userId, b.invoice.id)).toMatchObject({ amount_credited: b.invoice.amount_paid });
    const listed = await api<{ data: { id: string; amount: number; credit_note_id: string }[] }>("GET", `/v1/refunds?user_id=${viaStripe.userId}`);
    expect(listed.body.data).toEqual([expect.objectContaining({ amount: b.invoice.amount_paid, credit_note_id: note.id })]);
    await vi.waitFor(() => expect(refundEventsOf(viaStripe.userId).map((e) => e.data)).toEqual([{ user_id: viaStripe.userId, refund: listed.body.data[0] }]), { timeout: 15_000, interval: 50 });

    // The month's report row counts both refunds.
    const month = new Date((await stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000).toISOString().slice(0, 7);
    const report = await api<{ rows: { period: string; refunded: number }[] }>("GET", `/v1/analytics/report?from=${month}&to=${month}`, undefined, undefined, worker.adminKey);
    expect(report.body.rows.find((r) => r.period === month)?.refunded).toBe(a.invoice.amount_paid + b.invoice.amount_paid);
  }, 240_000);

  it("a credit to the balance for part and an API refund of the rest leave nothing paid: access ends as for a full refund", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const s = await signUp(`refund_credit_${Date.now().toString(36)}`, clock.id);
    await settle();
    await advanceTo(clock.id, (await stripe.subscriptions.retrieve(s.subId)).trial_end! * 1000 + 3 * DAY);
    expect(await access(s.userId)).toEqual({ status: "active", allowed: true });
    const { invoice, charge } = await paidInvoice(s.subId);
    // Goodwill credit to the customer's balance, made in Stripe: its events keep access (partial).
    await stripe.creditNotes.create({ invoice: invoice.id, amount: 1000, credit_amount: 1000 });
    await settle();
    expect(await access(s.userId)).toEqual({ status: "active", allowed: true });
    const rest = await api<{ amount: number }>("POST", "/v1/refunds", { invoice_id: invoice.id, reason: "service_issue" }, { "idempotency-key": `e2e-credit-${s.userId}` });
    expect(rest.status).toBe(201);
    expect(rest.body.amount).toBe(invoice.amount_paid - 1000);
    await settle();
    expect((await stripe.charges.retrieve(charge)).amount_refunded).toBe(invoice.amount_paid - 1000);
    expect((await stripe.subscriptions.retrieve(s.subId)).status).toBe("canceled");
    expect(await access(s.userId)).toEqual({ status: "canceled", allowed: false });
  }, 120_000);
});
