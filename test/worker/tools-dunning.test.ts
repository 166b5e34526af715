/**
 * The agent tools that need a failed payment: manage_dunning_process (the seed's
 * `{"customer_id": "cus_123", "failure_count": 2, "amount": 49.00}` shape on a real declined
 * renewal) and process_webhook, which never trusts the body: it fetches from Stripe.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { dunningCases, dunningSteps, emailOutbox, stripeEvents } from "../../worker/src/db/schema";
import { dollarsToCents, topLevelNumberTexts } from "../../worker/src/tools/money";
import { findTool } from "../../worker/src/tools/registry";
import { failedRenewal } from "./dunning-helpers";
import { call, count, makeKey } from "./helpers";
import { db, stripe } from "./stripe-helpers";

const keys = { admin: "", service: "" };
beforeAll(async () => {
  keys.admin = (await makeKey("admin", { name: "tools-dunning-admin" })).key;
  keys.service = (await makeKey("service", { name: "tools-dunning-service" })).key;
});

async function tool(name: string, raw: string, key = keys.admin) {
  const res = await call("POST", `/v1/tools/${name}`, { key, rawBody: raw, headers: { "content-type": "application/json" } });
  const body = await res.json<Record<string, any>>();
  if (res.status === 200) expect(findTool(name)!.output.safeParse(body).success, JSON.stringify(body)).toBe(true);
  return { status: res.status, body };
}

describe("dollars to cents", () => {
  it("takes the decimal text, never float arithmetic", () => {
    expect(dollarsToCents("49.00", "amount")).toBe(4900);
    expect(dollarsToCents(49, "amount")).toBe(4900);
    expect(dollarsToCents("0.1", "amount")).toBe(10);
    expect(dollarsToCents("1234.56", "amount")).toBe(123456);
    expect(() => dollarsToCents(0.1 + 0.2, "amount")).toThrow(/more than 2 decimals/);
    expect(() => dollarsToCents("49.999999999999999", "amount")).toThrow(/more than 2 decimals/);
    expect(() => dollarsToCents("-49.00", "amount")).toThrow(/negative/);
    expect(() => dollarsToCents("4.9e1", "amount")).toThrow(/exponent/);
    expect(() => dollarsToCents("1000000.01", "amount")).toThrow(/at most/);
  });

  it("reads each top-level number's source text from the JSON", () => {
    const texts = topLevelNumberTexts('{"customer_id":"cus_1","nested":{"amount":1.5,"x":[1,{"amount":2}]},"failure_count":2,"amount":49.00}');
    expect(Object.fromEntries(texts)).toEqual({ failure_count: "2", amount: "49.00" });
  });
});

describe("manage_dunning_process", () => {
  it("for a declined renewal: the case, what was done, the next actions with dates, and Stripe's amount and attempts where the agent's differ", async () => {
    const { customer, kase, at } = await failedRenewal();
    // The seed's input, with this run's customer: 49.00 as written, two failures.
    const r = await tool("manage_dunning_process", `{"customer_id": "${customer.id}", "failure_count": 2, "amount": 49.00}`, keys.service);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const day = 86_400_000;
    expect(r.body).toMatchObject({
      customer_id: customer.id,
      case_id: kase.id,
      invoice_id: kase.invoiceId,
      status: "open",
      stage: null,
      amount_due: { amount: 2900, currency: "usd" },
      attempts: 1,
      done_now: [],
    });
    expect(r.body.history[0]).toMatchObject({ action: "payment_failed", at: new Date(kase.anchorAt).toISOString() });
    expect(r.body.next_actions.map((a: { action: string }) => a.action)).toEqual(["retry_1", "dunning_soft", "dunning_urgent", "dunning_final", "suspended", "subscription_canceled"]);
    expect(r.body.next_actions.find((a: { action: string }) => a.action === "dunning_soft").at).toBe(new Date(kase.anchorAt + 3 * day).toISOString());
    expect(r.body.next_actions.find((a: { action: string }) => a.action === "suspended").at).toBe(new Date(kase.anchorAt + 21 * day).toISOString());
    expect(r.body.next_actions.find((a: { action: string }) => a.action === "subscription_canceled").at).toBe(new Date(kase.anchorAt + 27 * day).toISOString());
    // The renewal was $29.00 with one attempt: the agent's $49.00 and 2 are reported, not used.
    expect(r.body.disagreements).toEqual([
      { field: "amount", given: "$49.00", stripe: "$29.00" },
      { field: "failure_count", given: 2, stripe: 1 },
    ]);

    // Day 3.5: the retry and the soft reminder are due; the tool runs them once, as the cron would.
    await at(3.5);
    const again = await tool("manage_dunning_process", `{"customer_id": "${customer.id}", "failure_count": 2, "amount": 29.00}`);
    expect(again.body.done_now.join(" | ")).toMatch(/Retried the payment now: retry_\d declined.*Ran the due step now: dunning_soft/);
    expect(again.body).toMatchObject({ stage: "dunning_soft", disagreements: [] });
    expect(again.body.history.map((h: { action: string }) => h.action)).toEqual(expect.arrayContaining(["payment_failed", "dunning_soft"]));
    expect(again.body.next_actions[0].action).toMatch(/retry_|dunning_urgent/);
    const emails = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${kase.id}:dunning_soft`))
      .all();
    expect(emails).toHaveLength(1);
    // Asked again at once: nothing is due, nothing happens twice.
    const third = await tool("manage_dunning_process", `{"customer_id": "${customer.id}", "failure_count": 2, "amount": 29}`);
    expect(third.body.done_now).toEqual([]);
    expect(await db().select().from(dunningSteps).where(eq(dunningSteps.caseId, kase.id)).all()).toHaveLength(again.body.history.length - 1);
  }, 60_000);

  it("opens the case from Stripe's event when the webhook never delivered the failure", async () => {
    const { customer, kase } = await failedRenewal();
    // As if the failure had never arrived: no case, no stored event.
    await db().delete(dunningCases).where(eq(dunningCases.id, kase.id));
    const r = await tool("manage_dunning_process", `{"customer_id": "${customer.id}", "failure_count": 1, "amount": 29.00}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.done_now[0]).toMatch(/^Synced the missed failure evt_\w+ through the webhook pipeline \(processed\)/);
    expect(r.body).toMatchObject({ case_id: kase.id, status: "open", disagreements: [] });
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ anchorAt: kase.anchorAt, status: "open" });
  }, 60_000);

  it("refuses amounts that are not dollars and cents, naming the field, and an unknown customer with a 404", async () => {
    for (const amount of ["49.001", "0.30000000000000004", "-49.00", "4.9e1", "100000000", '"forty-nine"', "49.999999999999999"]) {
      const before = await count("audit_log");
      const r = await tool("manage_dunning_process", `{"customer_id": "cus_123", "failure_count": 2, "amount": ${amount}}`);
      expect(r.status, amount).toBe(400);
      expect(
        r.body.errors.map((e: { field: string }) => e.field),
        amount,
      ).toEqual(["body.amount"]);
      expect(await count("audit_log")).toBe(before);
    }
    const missing = await tool("manage_dunning_process", `{"customer_id": "cus_123", "failure_count": 2, "amount": 49.00}`);
    expect(missing.status).toBe(404);
    expect(missing.body.errors).toEqual([{ field: "body.customer_id", message: "no such customer in Stripe" }]);
  });
});

describe("process_webhook", () => {
  it("with the seed's shape and no id: fetches the invoice and Stripe's event about it, runs it through the pipeline, and reports where the body lied", async () => {
    const { customer, kase } = await failedRenewal();
    await db().delete(dunningCases).where(eq(dunningCases.id, kase.id));
    const invoice = await stripe().invoices.retrieve(kase.invoiceId);
    const body = { type: "invoice.payment_failed", data: { object: { id: invoice.id, object: "invoice", status: "paid", amount_due: 1, customer: customer.id } } };
    const r = await tool("process_webhook", JSON.stringify(body));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ type: "invoice.payment_failed", fetched: "object", outcome: "processed", event_id: expect.stringMatching(/^evt_/) });
    expect(r.body.disagreements).toEqual([
      { field: "data.object.status", given: "paid", stripe: "open" },
      { field: "data.object.amount_due", given: 1, stripe: 2900 },
    ]);
    // The pipeline (not the body) reopened the case, anchored at Stripe's failure.
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "open", anchorAt: kase.anchorAt });
    expect(r.body.summary).toMatch(/disagreed with Stripe on data\.object\.status, data\.object\.amount_due/);
  }, 60_000);

  it("with an event id: fetches that event from Stripe, replays the stored copy, and says what changed", async () => {
    const { kase } = await failedRenewal();
    const stored = await db().select().from(stripeEvents).where(eq(stripeEvents.objectId, kase.invoiceId)).all();
    const failed = stored.find((e) => e.type === "invoice.payment_failed")!;
    // The case lost behind the pipeline's back: the replayed event (not the body's type) reopens it.
    await db().delete(dunningCases).where(eq(dunningCases.id, kase.id));
    const r = await tool("process_webhook", JSON.stringify({ id: failed.id, type: "invoice.paid", data: { object: {} } }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      event_id: failed.id,
      type: "invoice.payment_failed",
      fetched: "event",
      outcome: "processed",
      disagreements: [{ field: "type", given: "invoice.paid", stripe: "invoice.payment_failed" }],
    });
    expect(await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get()).toMatchObject({ status: "open" });
  }, 60_000);

  it("an event or object Stripe does not have is a 404 naming the field; a type it cannot fetch by object needs an id", async () => {
    const noEvent = await tool("process_webhook", JSON.stringify({ id: "evt_doesnotexist", type: "invoice.paid", data: { object: {} } }));
    expect(noEvent.status).toBe(404);
    expect(noEvent.body.errors).toEqual([{ field: "body.id", message: "no such event in Stripe" }]);
    const noObject = await tool("process_webhook", JSON.stringify({ type: "invoice.payment_failed", data: { object: { id: "in_doesnotexist" } } }));
    expect(noObject.status).toBe(404);
    expect(noObject.body.errors[0].field).toBe("body.data.object.id");
    const wrongKind = await tool("process_webhook", JSON.stringify({ type: "invoice.payment_failed", data: { object: { id: "sub_123" } } }));
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.errors[0].field).toBe("body.data.object.id");
    // A dispute id is either prefix fields.ts DisputeId takes: du_ is looked up, not refused.
    const du = await tool("process_webhook", JSON.stringify({ type: "charge.dispute.created", data: { object: { id: "du_doesnotexist" } } }));
    expect(du.status).toBe(404);
    expect(du.body.errors[0].field).toBe("body.data.object.id");
    const charge = await tool("process_webhook", JSON.stringify({ type: "charge.failed", data: { object: { id: "ch_123" } } }));
    expect(charge.status).toBe(400);
    expect(charge.body.errors[0].field).toBe("body.type");
  });

  it("is admin only: a service key gets 403", async () => {
    const r = await tool("process_webhook", JSON.stringify({ type: "invoice.payment_failed", data: { object: { id: "in_123" } } }), keys.service);
    expect(r.status).toBe(403);
  });
});
