/**
 * Issue 26's early fraud warning acceptance, against the system `npm start` runs: the worker in
 * workerd with its real queue and crons over HTTP, the Stripe emulator sending signed webhooks,
 * a Mobile subscriber on a test clock advanced past the first paid period so a renewal is paid.
 * An issuer's warning on the renewal's charge (the emulator's control, as a card issuer raises
 * one) refunds it in full as a credit note, cancels the subscription, ends access, and no email
 * goes to the customer afterwards, though the outbox did email them before (the trial reminder).
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
  system = await startSystem({ secretKey: "sk_test_efw_e2e" });
  ({ emulator, worker, stripe } = system);
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

const advanceTo = (clock: string, ms: number) => system.advanceClock(clock, ms);

async function api<T>(method: string, path: string, json?: unknown, key = worker.serviceKey): Promise<{ status: number; body: T }> {
  const res = await worker.request(path, { method, key, ...(json !== undefined ? { json } : {}) });
  return { status: res.status, body: (await res.json()) as T };
}

async function access(userId: string) {
  const online = await api<{ status: string }>("GET", `/v1/entitlements/${userId}`);
  const check = await api<{ allowed: boolean }>("POST", "/v1/entitlements/check", { user_id: userId, feature: "local_job_search" });
  return { status: online.body.status, allowed: check.body.allowed };
}

/** Every email the outbox holds for the user or their address: what was sent, and what waits. */
async function emailsTo(userId: string, address: string) {
  const { results } = await worker.db
    .prepare('select template, status, created_at as createdAt from email_outbox where user_id = ? or "to" = ? order by created_at')
    .bind(userId, address)
    .all<{ template: string; status: string; createdAt: number }>();
  return results;
}

describe("an early fraud warning in the running system", () => {
  it("on a paid renewal: refunded in full, cancelled, access ends, and no email goes to the customer", async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) });
    const userId = `efw_${Date.now().toString(36)}`;
    const address = `${userId}@example.test`;
    const session = await api<{ session_id: string }>("POST", "/v1/checkout", { user_id: userId, email: address, tier: "mobile", test_clock: clock.id });
    expect(session.status).toBe(201);
    const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.body.session_id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payment_method: "pm_card_visa", name: "Warned Subscriber", "address[country]": "US", "address[state]": "VA", "address[postal_code]": "22201" }).toString(),
    });
    expect(paid.status).toBe(200);
    const subId = String((await stripe.checkout.sessions.retrieve(session.body.session_id)).subscription);
    await system.settle();

    // Past the trial (its reminder emailed), then past the first paid period: the renewal is paid.
    const trialEnd = (await stripe.subscriptions.retrieve(subId)).trial_end! * 1000;
    await advanceTo(clock.id, trialEnd - 2 * DAY);
    await system.runCron("sweep");
    await advanceTo(clock.id, trialEnd + DAY);
    const firstPeriodEnd = (await stripe.subscriptions.retrieve(subId)).items.data[0]!.current_period_end * 1000;
    await advanceTo(clock.id, firstPeriodEnd + 2 * DAY);
    await system.runCron("sweep");
    const renewal = await stripe.invoices.retrieve(String((await stripe.subscriptions.retrieve(subId)).latest_invoice));
    expect(renewal).toMatchObject({ status: "paid", billing_reason: "subscription_cycle", amount_paid: 4900 });
    const payment = (await stripe.invoicePayments.list({ invoice: renewal.id })).data[0]!;
    const charge = String((await stripe.paymentIntents.retrieve(String(payment.payment.payment_intent))).latest_charge);
    expect(await access(userId)).toEqual({ status: "active", allowed: true });
    const before = await emailsTo(userId, address);
    expect(before.map((e) => [e.template, e.status])).toContainEqual(["trial_ending", "sent"]);

    // The issuer's warning.
    const raised = await fetch(`${emulator.url}/_emulator/charges/${charge}/early_fraud_warning`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(raised.status).toBe(200);
    const warning = (await raised.json()) as Stripe.Radar.EarlyFraudWarning;
    expect(warning.actionable).toBe(true);
    await system.settle();
    await system.runCron("sweep");

    // Refunded in full, as a credit note on the renewal, and the subscription cancelled in Stripe.
    const notes = (await stripe.creditNotes.list({ invoice: renewal.id })).data;
    expect(notes.map((n) => [n.amount, n.reason, n.metadata?.early_fraud_warning])).toEqual([[4900, "fraudulent", warning.id]]);
    expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 4900, refunded: true });
    expect((await stripe.subscriptions.retrieve(subId)).status).toBe("canceled");
    expect((await stripe.radar.earlyFraudWarnings.retrieve(warning.id)).actionable).toBe(false);
    // Access ends; the API lists the refund; the warning is mirrored as acted on.
    expect(await access(userId)).toEqual({ status: "canceled", allowed: false });
    const refunds = await api<{ data: { amount: number; credit_note_id: string; invoice_id: string }[] }>("GET", `/v1/refunds?user_id=${userId}`);
    expect(refunds.body.data).toEqual([expect.objectContaining({ amount: 4900, credit_note_id: notes[0]!.id, invoice_id: renewal.id })]);
    const row = await worker.db
      .prepare("select actionable, actioned_at as actionedAt, user_id as userId from early_fraud_warnings where id = ?")
      .bind(warning.id)
      .first<{ actionable: number; actionedAt: number | null; userId: string }>();
    expect(row).toMatchObject({ actionable: 0, userId });
    expect(row?.actionedAt).toEqual(expect.any(Number));
    // No email to the customer since the warning: nothing new in the outbox that is not suppressed.
    const after = (await emailsTo(userId, address)).slice(before.length);
    expect(after.filter((e) => e.status !== "suppressed")).toEqual([]);
    expect((await emailsTo(userId, address)).slice(0, before.length)).toEqual(before);

    // The month's report counts the warning and the refund.
    const month = new Date((await stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000).toISOString().slice(0, 7);
    const report = await api<{ rows: { period: string; refunded: number; early_fraud_warnings: number }[] }>("GET", `/v1/analytics/report?from=${month}&to=${month}`, undefined, worker.adminKey);
    expect(report.body.rows.find((r) => r.period === month)).toMatchObject({ refunded: 4900, early_fraud_warnings: 1 });
  }, 240_000);
});
