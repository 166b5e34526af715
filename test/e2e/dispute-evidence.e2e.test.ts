/**
 * Issue 26's dispute evidence, against the system `npm start` runs: the worker in workerd with
 * its real queue, the Stripe emulator over HTTP sending signed webhooks, a customer on a test
 * clock. A subscriber checks out with Stripe's dispute test card; the first charge after the
 * trial is disputed by the issuer. The app checks the user's access online N times and fetches
 * a token during the disputed period (and a few times outside it, and once for a feature the plan
 * lacks); the evidence endpoint submits a packet whose access count is exactly N + 1.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../worker/src/catalog";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { startSystem, type RunningSystem } from "../harness/system.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const DAY = 86_400_000;
const N = 5;

let system: RunningSystem;
let emulator: Emulator;
let worker: WorkerHarness;
let stripe: Stripe;

beforeAll(async () => {
  system = await startSystem({ secretKey: "sk_test_dispute_evidence_e2e", emulator: { taxRates: { "US-CA": 725 } } });
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

const check = async (userId: string, feature: string) => (await api<{ allowed: boolean }>("POST", "/v1/entitlements/check", { user_id: userId, feature })).body.allowed;

interface Summary {
  status: string;
  reason: string;
  service_period: { start: string; end: string };
  access_checks: { allowed: number; first_at: string | null; last_at: string | null };
}

describe("dispute evidence in the running system", () => {
  it("submits evidence whose access log counts the user's N allowed checks and one token issue in the disputed period, exactly", async () => {
    const start = Date.now();
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(start / 1000) });
    const userId = `dispute_evidence_${start.toString(36)}`;
    const session = await api<{ session_id: string }>("POST", "/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "mobile", test_clock: clock.id });
    expect(session.status).toBe(201);
    const paid = await fetch(`${emulator.url}/v1/test_helpers/checkout/sessions/${session.body.session_id}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${emulator.secretKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        payment_method: "pm_card_createDisputeProductNotReceived",
        name: "Disputing Subscriber",
        "address[country]": "US",
        "address[state]": "CA",
        "address[postal_code]": "94107",
      }).toString(),
    });
    expect(paid.status).toBe(200);
    const { subscription } = await stripe.checkout.sessions.retrieve(session.body.session_id);
    await system.settle();

    // During the trial: allowed, but not in the disputed (first paid) period.
    expect(await check(userId, "mobile_app")).toBe(true);
    await api("POST", "/v1/entitlements/token", { user_id: userId });

    const trialEnd = (await stripe.subscriptions.retrieve(subscription as string)).trial_end! * 1000;
    await advanceTo(clock.id, trialEnd + 3_600_000 * 2);
    const sub = await stripe.subscriptions.retrieve(subscription as string);
    const invoice = await stripe.invoices.retrieve(String(sub.latest_invoice));
    expect(invoice.status).toBe("paid");
    const pi = String((await stripe.invoicePayments.list({ invoice: invoice.id })).data[0]!.payment.payment_intent);
    const dispute = (await stripe.disputes.list({ payment_intent: pi })).data[0]!;
    expect(dispute).toMatchObject({ status: "needs_response", reason: "product_not_received" });

    // In the disputed period, on the customer's clock: N allowed checks over two days, one token,
    // and a check of a feature the plan does not have (denied, not counted).
    for (let i = 0; i < N; i++) {
      if (i === 2) await advanceTo(clock.id, trialEnd + 2 * DAY);
      expect(await check(userId, i % 2 === 0 ? "mobile_app" : "nationwide_job_search")).toBe(true);
    }
    expect(await check(userId, "no_such_feature")).toBe(false);
    expect((await api<{ token: string }>("POST", "/v1/entitlements/token", { user_id: userId })).status).toBe(200);

    // The log is written after each answer: the agent's read-only summary shows when it has landed.
    const summary = await vi.waitFor(
      async () => {
        const s = await api<Summary>("POST", "/v1/tools/dispute_summary", { dispute_id: dispute.id }, worker.adminKey);
        expect(s.status).toBe(200);
        expect(s.body.access_checks.allowed).toBe(N + 1);
        return s.body;
      },
      { timeout: 10_000, interval: 100 },
    );
    const firstPaid = sub.items.data[0]!.current_period_start * 1000;
    expect(summary.service_period).toEqual({ start: new Date(firstPaid).toISOString(), end: new Date(sub.items.data[0]!.current_period_end * 1000).toISOString() });
    expect(firstPaid).toBe(trialEnd);

    const sent = await api<{ dispute_id: string; submitted: boolean; evidence: Record<string, string>; access_checks: Summary["access_checks"] }>(
      "POST",
      `/v1/disputes/${dispute.id}/evidence`,
      { submit: true },
      worker.adminKey,
    );
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      dispute_id: dispute.id,
      submitted: true,
      access_checks: { allowed: N + 1, first_at: new Date(trialEnd + 7_200_000).toISOString(), last_at: new Date(trialEnd + 2 * DAY).toISOString() },
    });

    // What Stripe holds is what was sent.
    const inStripe = await stripe.disputes.retrieve(dispute.id);
    expect(inStripe.status).toBe("under_review");
    expect(inStripe.evidence_details.submission_count).toBe(1);
    expect(inStripe.evidence).toMatchObject({
      customer_email_address: `${userId}@example.test`,
      service_date: new Date(trialEnd).toISOString(),
      access_activity_log: expect.stringContaining(`Allowed checks and token issues in the period: ${N + 1}, first ${new Date(trialEnd + 7_200_000).toISOString()}`),
      cancellation_policy_disclosure: expect.stringContaining(catalog.policy.terms.cancellation),
      refund_policy_disclosure: expect.stringContaining(catalog.policy.terms.refund),
    });
    expect(inStripe.evidence.uncategorized_text).toContain(`signed up on`);
    // The terms as this customer's own Checkout session showed them.
    expect(inStripe.evidence.cancellation_policy_disclosure).toMatch(new RegExp(`^Shown on the Stripe Checkout page \\(session ${session.body.session_id}, opened `));

    // Once submitted, it takes no more: a 409 problem, nothing sent.
    const again = await api<{ code: string }>("POST", `/v1/disputes/${dispute.id}/evidence`, { submit: true }, worker.adminKey);
    expect([again.status, again.body.code]).toEqual([409, "dispute_closed"]);
  }, 180_000);
});
