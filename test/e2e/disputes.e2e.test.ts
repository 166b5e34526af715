/**
 * Issue 26's dispute acceptance, against the system `npm start` runs: the worker in workerd with
 * its real queue, the Stripe emulator over HTTP sending signed webhooks as they happen, a customer
 * on a test clock. A subscriber whose renewal is paid with Stripe's dispute test card
 * (pm_card_createDispute) has it disputed as fraudulent: the dispute is mirrored, the subscription
 * is cancelled at once, access ends and MRR falls by the plan's 4900. Losing evidence submitted
 * through Stripe's API closes the dispute as lost, and the mirror says so.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  // As npm start starts and provisions it.
  system = await startSystem({ secretKey: "sk_test_disputes_e2e", emulator: { taxRates: { "US-CA": 725 } } });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const settle = () => system.settle();

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

async function api<T>(method: string, path: string, json?: unknown, key = worker.serviceKey): Promise<{ status: number; body: T }> {
  const res = await worker.request(path, { method, key, ...(json !== undefined ? { json } : {}) });
  return { status: res.status, body: (await res.json()) as T };
}

async function signUp(userId: string, clock: string) {
  const session = await api<{ session_id: string }>("POST", "/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "mobile", test_clock: clock });
  expect(session.status).toBe(201);
  const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.body.session_id}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Disputing Subscriber", "address[country]": "US", "address[state]": "VA", "address[postal_code]": "22201" }).toString(),
  });
  expect(paid.status).toBe(200);
  const { customer, subscription } = await stripe.checkout.sessions.retrieve(session.body.session_id);
  return { userId, customerId: customer as string, subId: subscription as string };
}

const mrr = async () => (await api<{ current: { mrr: number } }>("GET", "/v1/analytics/report", undefined, worker.adminKey)).body.current.mrr;

/** Access as the API answers it: the online entitlement and a check of a Mobile feature. */
async function access(userId: string) {
  const online = await api<{ status: string }>("GET", `/v1/entitlements/${userId}`);
  const check = await api<{ allowed: boolean }>("POST", "/v1/entitlements/check", { user_id: userId, feature: "local_job_search" });
  return { status: online.body.status, allowed: check.body.allowed };
}

interface DisputeWire {
  id: string;
  charge_id: string;
  invoice_id: string | null;
  user_id: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: string;
  evidence_due_by: string | null;
  fee: number;
  created_at: string;
  closed_at: string | null;
}

const disputesOf = async (userId: string) => (await api<{ data: DisputeWire[] }>("GET", `/v1/disputes?user_id=${userId}`, undefined, worker.adminKey)).body.data;

describe("disputes in the running system", () => {
  it("a renewal paid with the dispute card: mirrored, access ends, MRR falls by 4900; losing evidence closes it as lost", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const s = await signUp(`dispute_${Date.now().toString(36)}`, clock.id);
    await settle();
    await advanceTo(clock.id, (await stripe.subscriptions.retrieve(s.subId)).trial_end! * 1000 + 3 * DAY);
    expect(await access(s.userId)).toEqual({ status: "active", allowed: true });
    const before = await mrr();
    expect(before).toBeGreaterThanOrEqual(4900);

    // The subscriber now pays with Stripe's dispute test card; its issuer disputes the renewal.
    const card = await stripe.paymentMethods.attach("pm_card_createDispute", { customer: s.customerId });
    await stripe.customers.update(s.customerId, { invoice_settings: { default_payment_method: card.id } });
    await stripe.subscriptions.update(s.subId, { default_payment_method: card.id });
    await settle();
    const periodEnd = (await stripe.subscriptions.retrieve(s.subId)).items.data[0]!.current_period_end * 1000;
    await advanceTo(clock.id, periodEnd + 2 * HOUR);

    const renewal = await stripe.invoices.retrieve(String((await stripe.subscriptions.retrieve(s.subId)).latest_invoice));
    expect(renewal).toMatchObject({ status: "paid", amount_paid: 4900 });
    const [dispute] = (await stripe.disputes.list({ limit: 100 })).data.filter((d) => d.payment_intent === renewal.payments?.data[0]?.payment.payment_intent);
    expect(dispute).toMatchObject({ reason: "fraudulent", status: "needs_response", amount: 4900 });

    expect(await disputesOf(s.userId)).toEqual([
      {
        id: dispute!.id,
        charge_id: dispute!.charge,
        invoice_id: renewal.id,
        user_id: s.userId,
        amount: 4900,
        currency: "usd",
        reason: "fraudulent",
        status: "needs_response",
        evidence_due_by: new Date(dispute!.evidence_details.due_by! * 1000).toISOString(),
        fee: 1500,
        created_at: new Date(dispute!.created * 1000).toISOString(),
        closed_at: null,
      },
    ]);
    expect((await stripe.subscriptions.retrieve(s.subId)).status).toBe("canceled");
    expect(await access(s.userId)).toEqual({ status: "canceled", allowed: false });
    expect(await mrr()).toBe(before - 4900);
    // Audited once, with the rule that decided.
    const audit = await api<{ data: { after: { rule?: string; dispute?: string } | null }[] }>("GET", `/v1/audit?action=dispute.access_ended&subject_id=${s.userId}`, undefined, worker.adminKey);
    expect(audit.status).toBe(200);
    expect(audit.body.data.map((r) => [r.after?.dispute, r.after?.rule])).toEqual([[dispute!.id, "byReason.fraudulent"]]);

    // Losing evidence, submitted through Stripe's API as the dashboard would: the dispute is lost, and the mirror says so.
    const lost = await stripe.disputes.update(dispute!.id, { evidence: { uncategorized_text: "losing_evidence" }, submit: true });
    expect(lost.status).toBe("lost");
    await settle();
    const [mirrored] = await disputesOf(s.userId);
    expect(mirrored).toMatchObject({ id: dispute!.id, status: "lost", fee: 1500 });
    expect(mirrored!.closed_at).toBe(new Date((await stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000).toISOString());
    expect((await api<{ data: DisputeWire[] }>("GET", "/v1/disputes?status=lost&reason=fraudulent&limit=100", undefined, worker.adminKey)).body.data.map((d) => d.id)).toContain(dispute!.id);

    // The monthly report counts the dispute opened in its month and lost in the month it closed, with its fee.
    const opened = mirrored!.created_at.slice(0, 7);
    const closed = mirrored!.closed_at!.slice(0, 7);
    type Row = { period: string; disputes_opened: number; disputes_lost: number; dispute_fees: number };
    const rows = (await api<{ rows: Row[] }>("GET", `/v1/analytics/report?from=${opened}&to=${closed}`, undefined, worker.adminKey)).body.rows;
    expect(rows.reduce((n, r) => n + r.disputes_opened, 0)).toBe(1);
    expect(rows.find((r) => r.period === opened)?.disputes_opened).toBe(1);
    expect(rows.find((r) => r.period === closed)?.disputes_lost).toBe(1);
    expect(rows.reduce((n, r) => n + r.dispute_fees, 0)).toBe(1500);
  }, 240_000);
});
