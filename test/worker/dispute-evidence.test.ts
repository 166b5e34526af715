/**
 * POST /v1/disputes/{id}/evidence and the dispute_summary tool: the evidence is built from the
 * system's own records (Stripe's dispute, charge, invoice and customer; the access log; the terms
 * Checkout shows; earlier payments from the mirror), staged unless asked to submit, and a closed
 * or past-due dispute takes none. Customers live on Stripe test clocks, disputes come from
 * Stripe's dispute test cards and the emulator's issuer control, through the official client.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { catalog, checkoutTermsText } from "../../worker/src/catalog";
import { systemClock } from "../../worker/src/clock";
import { findTool } from "../../worker/src/tools/registry";
import { BASE, call, freshIp, makeKey, svc, TEST_ACTOR } from "./helpers";
import { sendEvidence } from "../../worker/src/evidence";
import { deliver, deliverAll, eventsFor, settled, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;
const keys = { admin: "", service: "", analyst: "" };

beforeAll(async () => {
  for (const role of ["admin", "service", "analyst"] as const) keys[role] = (await makeKey(role, { name: `evidence-${role}` })).key;
});

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
}
interface Answer {
  dispute_id: string;
  submitted: boolean;
  evidence: Record<string, string>;
  access_checks: { allowed: number; first_at: string | null; last_at: string | null };
}

/** An entitlement request as Cloudflare serves it, waiting for the access log's write after the answer. */
async function served(path: string, body: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const req = new Request(`http://billing.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${keys.service}`, "content-type": "application/json", "cf-connecting-ip": freshIp() },
    body: JSON.stringify(body),
  });
  const res = await createApp(systemClock).fetch(req, env, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return res;
}
const check = async (userId: string, feature: string) => (await (await served("/v1/entitlements/check", { user_id: userId, feature })).json<{ allowed: boolean }>()).allowed;

const evidence = (id: string, body: unknown = {}, key = keys.admin) => call("POST", `/v1/disputes/${id}/evidence`, { key, body });

/** The PaymentIntent that paid an invoice. */
async function paymentIntentOf(invoiceId: string): Promise<string> {
  const payment = (await stripe().invoicePayments.list({ invoice: invoiceId, limit: 1 })).data[0]!;
  return payment.payment.payment_intent as string;
}

async function disputeOfInvoice(invoiceId: string): Promise<Stripe.Dispute> {
  const found = (await stripe().disputes.list({ payment_intent: await paymentIntentOf(invoiceId), limit: 1 })).data[0];
  expect(found, `no dispute on ${invoiceId}`).toBeDefined();
  return found!;
}

/**
 * A Mobile subscriber on a test clock paying with Stripe's product-not-received dispute card (a
 * reason that keeps access, so checks after the dispute are still allowed), mirrored.
 */
async function disputedSubscriber(card = "pm_card_createDisputeProductNotReceived") {
  const clock = await testClock(Math.floor((Date.now() - 40 * DAY) / 1000));
  const s = await subscriber({ lookupKey: "mobile_monthly", card, testClock: clock.id });
  await stripe().customers.update(s.customer.id, { name: "Pat Doe" });
  const seen = await deliverAll({ customer: s.customer.id, sub: s.sub.id });
  const invoice = (await stripe().invoices.list({ customer: s.customer.id, limit: 1 })).data[0]!;
  const period = { start: s.sub.items.data[0]!.current_period_start * 1000, end: s.sub.items.data[0]!.current_period_end * 1000 };
  return { ...s, clock, seen, invoice, period, dispute: card === "pm_card_visa" ? (undefined as never) : await disputeOfInvoice(invoice.id) };
}

const frozenMs = async (clockId: string) => (await stripe().testHelpers.testClocks.retrieve(clockId)).frozen_time * 1000;

describe("POST /v1/disputes/{id}/evidence", () => {
  it("stages the evidence built from the system's records by default, counting the period's allowed checks and token issues exactly", async () => {
    const s = await disputedSubscriber();
    expect(s.dispute.status).toBe("needs_response");
    await s.clock.advanceDays(1);
    const first = await frozenMs(s.clock.id);
    for (let i = 0; i < 3; i++) expect(await check(s.userId, "nationwide_job_search")).toBe(true);
    expect(await check(s.userId, "no_such_feature")).toBe(false);
    await s.clock.advanceDays(2);
    const last = await frozenMs(s.clock.id);
    await served("/v1/entitlements/token", { user_id: s.userId });

    const res = await evidence(s.dispute.id);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await res.json<Answer>();
    expect(body).toMatchObject({ dispute_id: s.dispute.id, submitted: false, access_checks: { allowed: 4, first_at: new Date(first).toISOString(), last_at: new Date(last).toISOString() } });
    const service = `${new Date(s.period.start).toISOString()} to ${new Date(s.period.end).toISOString()}`;
    expect(body.evidence).toMatchObject({ customer_email_address: `${s.userId}@example.test`, customer_name: "Pat Doe", service_date: new Date(s.period.start).toISOString() });
    expect(body.evidence.uncategorized_text).toContain(`paid for the service period ${service}.`);
    expect(body.evidence.access_activity_log).toContain(`Service period: ${service}.`);
    expect(body.evidence.access_activity_log).toContain(`Allowed checks and token issues in the period: 4, first ${new Date(first).toISOString()}, last ${new Date(last).toISOString()}.`);
    expect(body.evidence.access_activity_log).toContain(`${new Date(first).toISOString().slice(0, 10)}: 3 allowed`);
    expect(body.evidence.cancellation_policy_disclosure).toContain(catalog.policy.terms.cancellation);
    expect(body.evidence.refund_policy_disclosure).toContain(catalog.policy.terms.refund);
    // Subscribed through the API, not Checkout: the terms are given without the claim they were shown.
    expect(body.evidence.cancellation_policy_disclosure).toMatch(/^Our terms \(this subscription was not started through Checkout/);
    expect(body.evidence.product_description).toMatch(/^Federal Job Advisor Mobile, a subscription billed per month/);
    expect(body.evidence.uncategorized_text).toContain(`signed up on ${new Date(s.customer.created * 1000).toISOString()}`);
    expect(body.evidence.uncategorized_text).toContain("The customer made no earlier payment.");

    // Staged on the dispute as Stripe has it, not submitted.
    const staged = await stripe().disputes.retrieve(s.dispute.id);
    expect(staged.status).toBe("needs_response");
    expect(staged.evidence_details.submission_count).toBe(0);
    expect(staged.evidence).toMatchObject(body.evidence);

    // Submitted when asked; then it is under review and takes no more.
    const submitted = await (await evidence(s.dispute.id, { submit: true })).json<Answer>();
    expect(submitted).toMatchObject({ submitted: true, access_checks: { allowed: 4 } });
    expect((await stripe().disputes.retrieve(s.dispute.id)).status).toBe("under_review");
    const again = await evidence(s.dispute.id, { submit: true });
    expect(again.status).toBe(409);
    expect((await again.json<Problem>()).type).toMatch(/\/dispute-closed$/);
  }, 90_000);

  it("a retry under the same Idempotency-Key that rebuilt other evidence is sent, not refused by Stripe", async () => {
    const s = await disputedSubscriber();
    const who = { ...TEST_ACTOR, idempotencyKey: `evidence-retry-${s.dispute.id}` };
    const first = await sendEvidence(svc(), who, { disputeId: s.dispute.id, submit: false });
    expect(first.access.allowed).toBe(0);
    expect(await check(s.userId, "nationwide_job_search")).toBe(true);
    const retried = await sendEvidence(svc(), who, { disputeId: s.dispute.id, submit: false });
    expect(retried.access.allowed).toBe(1);
    expect((await stripe().disputes.retrieve(s.dispute.id)).evidence.access_activity_log).toBe(retried.evidence.access_activity_log);
  }, 60_000);

  it("refuses a closed dispute with a 409 dispute-closed problem and sends nothing", async () => {
    const s = await disputedSubscriber();
    await stripe().disputes.close(s.dispute.id);
    const res = await evidence(s.dispute.id, { submit: true });
    expect(res.status).toBe(409);
    const problem = await res.json<Problem>();
    expect(problem.type).toMatch(/\/dispute-closed$/);
    expect(problem.detail).toMatch(/closed \(lost\)/);
    expect((await stripe().disputes.retrieve(s.dispute.id)).evidence.access_activity_log).toBeNull();
  }, 60_000);

  it("refuses a dispute past its evidence due date on the customer's clock with a 409 evidence-past-due problem", async () => {
    const s = await disputedSubscriber();
    const due = s.dispute.evidence_details.due_by! * 1000;
    expect(due).toBeLessThan(Date.now());
    // Real time is past the due date already; the customer's clock is not, so evidence is still taken.
    expect((await evidence(s.dispute.id)).status).toBe(200);
    await s.clock.advanceTo(due + 1000);
    const res = await evidence(s.dispute.id, { submit: true });
    expect(res.status).toBe(409);
    expect((await res.json<Problem>()).type).toMatch(/\/evidence-past-due$/);
    expect((await stripe().disputes.retrieve(s.dispute.id)).evidence_details.submission_count).toBe(0);
  }, 60_000);

  it("lists the customer's earlier undisputed payments and answers for the disputed renewal's own period", async () => {
    // Paid with a card no issuer disputes; the renewal's charge is disputed by the issuer afterwards.
    const s = await disputedSubscriber("pm_card_visa");
    const renewalAt = s.period.end;
    await s.clock.advanceTo(renewalAt + 2 * 3600_000);
    await deliverAll({ customer: s.customer.id, sub: s.sub.id }, s.seen);
    const renewal = (await stripe().invoices.list({ customer: s.customer.id, limit: 1 })).data[0]!;
    expect(renewal.id).not.toBe(s.invoice.id);
    expect(renewal.status).toBe("paid");
    const payment = (await stripe().paymentIntents.retrieve(await paymentIntentOf(renewal.id))).latest_charge as string;
    const opened = await fetch(`${env.STRIPE_API_BASE}/_emulator/charges/${payment}/dispute`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.STRIPE_SECRET_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "subscription_canceled" }),
    });
    expect(opened.status).toBe(200);
    const dispute = await disputeOfInvoice(renewal.id);
    const body = await (await evidence(dispute.id)).json<Answer>();
    const line = renewal.lines.data.find((l) => l.amount > 0)!;
    expect(body.evidence.service_date).toBe(new Date(line.period.start * 1000).toISOString());
    expect(body.evidence.access_activity_log).toContain(`Service period: ${new Date(line.period.start * 1000).toISOString()} to ${new Date(line.period.end * 1000).toISOString()}.`);
    expect(body.evidence.uncategorized_text).toContain("Earlier payments by the same customer, not disputed (1):");
    expect(body.evidence.uncategorized_text).toContain(
      `- invoice ${s.invoice.id}: ${(s.invoice.amount_paid / 100).toFixed(2)} USD paid ${new Date(s.invoice.status_transitions.paid_at! * 1000).toISOString()}`,
    );
    expect(body.access_checks).toEqual({ allowed: 0, first_at: null, last_at: null });
  }, 90_000);

  it("leaves out an earlier payment refunded in full: it is no payment the customer kept", async () => {
    const s = await disputedSubscriber("pm_card_visa");
    await s.clock.advanceTo(s.period.end + 2 * 3600_000);
    await deliverAll({ customer: s.customer.id, sub: s.sub.id }, s.seen);
    const renewal = (await stripe().invoices.list({ customer: s.customer.id, limit: 1 })).data[0]!;
    expect(renewal.id).not.toBe(s.invoice.id);
    const refund = await stripe().refunds.create({ payment_intent: await paymentIntentOf(s.invoice.id) });
    for (const e of await eventsFor([refund.id, refund.charge as string])) {
      s.seen.add(e.id);
      expect((await deliver(e)).status).toBe(200);
      expect(await settled(e.id)).toBe("processed");
    }
    const payment = (await stripe().paymentIntents.retrieve(await paymentIntentOf(renewal.id))).latest_charge as string;
    const opened = await fetch(`${env.STRIPE_API_BASE}/_emulator/charges/${payment}/dispute`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.STRIPE_SECRET_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "subscription_canceled" }),
    });
    expect(opened.status).toBe(200);
    const body = await (await evidence((await disputeOfInvoice(renewal.id)).id)).json<Answer>();
    expect(body.evidence.uncategorized_text).not.toContain(s.invoice.id);
    expect(body.evidence.uncategorized_text).toContain("The customer made no earlier payment.");
  }, 90_000);

  it("answers 404 for a dispute Stripe does not have and 400 naming path.id for a malformed id", async () => {
    const missing = await evidence("dp_doesnotexist123");
    expect(missing.status).toBe(404);
    const bad = await evidence("not-a-dispute");
    expect(bad.status).toBe(400);
    expect((await bad.json<Problem>()).errors?.map((e) => e.field)).toEqual(["path.id"]);
    const badBody = await evidence("dp_doesnotexist123", { submit: "yes" });
    expect(badBody.status).toBe(400);
    expect((await badBody.json<Problem>()).errors?.map((e) => e.field)).toEqual(["body.submit"]);
  });

  it("is refused to service and analyst keys: it reads the customer's email and access log", async () => {
    for (const key of [keys.service, keys.analyst]) expect((await evidence("dp_doesnotexist123", {}, key)).status).toBe(403);
  });
});

describe("the terms shown at checkout", () => {
  it("puts the catalog's cancellation and refund terms above Checkout's pay button", async () => {
    const res = await call("POST", "/v1/checkout", { key: keys.service, body: { user_id: `terms_${Date.now().toString(36)}`, email: "terms@example.test", tier: "local" } });
    expect(res.status, await res.clone().text()).toBe(201);
    const { session_id } = await res.json<{ session_id: string }>();
    expect((await stripe().checkout.sessions.retrieve(session_id)).custom_text.submit).toEqual({ message: checkoutTermsText(catalog.policy.terms) });
  });
});

describe("the dispute_summary tool", () => {
  async function mcp(key: string): Promise<Client> {
    const ip = freshIp();
    const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
      fetch: (url, init) => SELF.fetch(url, init),
      requestInit: { headers: { "cf-connecting-ip": ip, authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: "evidence-test", version: "1.0.0" }, { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
    await client.connect(transport);
    return client;
  }

  it("answers the dispute's status, reason, amount and due date with the evidence the route would send, over HTTP and MCP alike, sending nothing", async () => {
    const s = await disputedSubscriber();
    await s.clock.advanceDays(1);
    expect(await check(s.userId, "mobile_app")).toBe(true);
    const res = await call("POST", "/v1/tools/dispute_summary", { key: keys.admin, body: { dispute_id: s.dispute.id } });
    expect(res.status, await res.clone().text()).toBe(200);
    const summary = await res.json<Record<string, any>>();
    expect(findTool("dispute_summary")!.output.safeParse(summary).success).toBe(true);
    expect(summary).toMatchObject({
      dispute_id: s.dispute.id,
      status: "needs_response",
      reason: "product_not_received",
      amount: s.invoice.amount_paid,
      currency: "usd",
      evidence_due_by: new Date(s.dispute.evidence_details.due_by! * 1000).toISOString(),
      invoice_id: s.invoice.id,
      service_period: { start: new Date(s.period.start).toISOString(), end: new Date(s.period.end).toISOString() },
      access_checks: { allowed: 1 },
    });
    // Nothing reached Stripe.
    const untouched = await stripe().disputes.retrieve(s.dispute.id);
    expect(untouched.evidence.access_activity_log).toBeNull();
    expect(untouched.evidence_details.has_evidence).toBe(false);

    const client = await mcp(keys.admin);
    const result = await client.callTool({ name: "dispute_summary", arguments: { dispute_id: s.dispute.id } });
    await client.close();
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual(summary);

    // The route sends the very evidence the tool showed.
    const sent = await (await evidence(s.dispute.id)).json<Answer>();
    expect(sent.evidence).toEqual(summary.evidence);
    expect(sent.access_checks).toEqual(summary.access_checks);
  }, 60_000);

  it("is refused to the service and analyst keys its twin refuses, and names a malformed dispute_id", async () => {
    for (const key of [keys.service, keys.analyst]) expect((await call("POST", "/v1/tools/dispute_summary", { key, body: { dispute_id: "dp_x1" } })).status).toBe(403);
    const bad = await call("POST", "/v1/tools/dispute_summary", { key: keys.admin, body: { dispute_id: "ch_123" } });
    expect(bad.status).toBe(400);
    expect((await bad.json<Problem>()).errors?.map((e) => e.field)).toEqual(["body.dispute_id"]);
  });
});
