import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, clockCustomer, DAY, start, T0, type Harness } from "./helpers.ts";

let h: Harness;
let prices: { local: Stripe.Price; mobile: Stripe.Price };
beforeAll(async () => {
  h = await start();
  prices = await catalog(h.stripe);
});
afterAll(async () => {
  await h.stop();
});

/** Every event of the given types, oldest first. */
async function events(stripe: Stripe, types: string[]): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for await (const e of stripe.events.list({ limit: 100, types })) out.push(e);
  return out.reverse();
}

function idOf(ref: string | { id: string } | null | undefined): string {
  if (ref === null || ref === undefined) return "";
  return typeof ref === "string" ? ref : ref.id;
}

/** A subscription whose renewal (after a one-day trial) fails with the customer's card. */
async function failedRenewal(stripe: Stripe, card: string): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription; invoice: Stripe.Invoice }> {
  const { clock, customer } = await clockCustomer(stripe, card);
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], trial_period_days: 1 });
  await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + DAY + 2 * 3600 });
  const s = await stripe.subscriptions.retrieve(sub.id);
  const invoice = await stripe.invoices.retrieve(idOf(s.latest_invoice));
  return { clock, customer, sub: s, invoice };
}

describe("payment attempts: one charge per attempt", () => {
  it("an invoice declined twice with different cards and then paid has three charges, each failure with its own decline code, attempt_count 3", async () => {
    const { customer, sub, invoice } = await failedRenewal(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    expect([sub.status, invoice.status, invoice.attempt_count]).toEqual(["past_due", "open", 1]);
    const lost = await h.stripe.paymentMethods.attach("pm_card_chargeDeclinedLostCard", { customer: customer.id });
    const err = await h.stripe.invoices.pay(invoice.id, { payment_method: lost.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    if (err instanceof Stripe.errors.StripeCardError) expect(err.decline_code).toBe("lost_card");
    const visa = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const paid = await h.stripe.invoices.pay(invoice.id, { payment_method: visa.id });
    expect([paid.status, paid.attempt_count, paid.amount_paid]).toEqual(["paid", 3, 2900]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");

    // As on Stripe, the invoice keeps one PaymentIntent; each attempt is a new Charge on it.
    expect(paid.payments?.data).toHaveLength(1);
    const piId = idOf(paid.payments?.data[0]?.payment.payment_intent);
    const charges = (await h.stripe.charges.list({ payment_intent: piId })).data.reverse();
    expect(charges.map((c) => [c.status, c.failure_code, c.outcome?.reason ?? null, c.payment_method])).toEqual([
      ["failed", "card_declined", "insufficient_funds", idOf(customer.invoice_settings.default_payment_method)],
      ["failed", "card_declined", "lost_card", lost.id],
      ["succeeded", null, null, visa.id],
    ]);
    const pi = await h.stripe.paymentIntents.retrieve(piId);
    expect([pi.status, pi.latest_charge, pi.last_payment_error]).toEqual(["succeeded", charges[2]?.id, null]);

    // Each invoice.payment_failed follows the payment_intent.payment_failed of the same attempt,
    // whose last_payment_error names that attempt's charge and decline code.
    const evs = (await events(h.stripe, ["payment_intent.payment_failed", "invoice.payment_failed", "charge.failed"])).filter((e) => {
      const o = e.data.object;
      return ("payment_intent" in o && o.payment_intent === piId) || ("id" in o && (o.id === piId || o.id === invoice.id));
    });
    expect(evs.map((e) => e.type)).toEqual(["charge.failed", "payment_intent.payment_failed", "invoice.payment_failed", "charge.failed", "payment_intent.payment_failed", "invoice.payment_failed"]);
    const failures = evs
      .filter((e) => e.type === "payment_intent.payment_failed")
      .map((e) => {
        const o = e.data.object;
        return "last_payment_error" in o ? [o.last_payment_error?.charge, o.last_payment_error?.decline_code] : [];
      });
    expect(failures).toEqual([
      [charges[0]?.id, "insufficient_funds"],
      [charges[1]?.id, "lost_card"],
    ]);
    const attempts = evs.filter((e) => e.type === "invoice.payment_failed").map((e) => ("attempt_count" in e.data.object ? e.data.object.attempt_count : 0));
    expect(attempts).toEqual([1, 2]);
  });
});

/** `POST /_emulator/payment_methods/:id/recover` with a JSON body. */
async function recover(em: Harness["em"], pmId: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${em.url}/_emulator/payment_methods/${pmId}/recover`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: JSON.parse(await res.text()) };
}

async function declineCodeOfPay(stripe: Stripe, invoiceId: string): Promise<string> {
  const out = await stripe.invoices.pay(invoiceId).catch((e: unknown) => e);
  if (out instanceof Stripe.errors.StripeCardError) return out.decline_code ?? out.code ?? "card_error";
  if (out instanceof Error) throw out;
  return "paid";
}

describe("a test payment method set to recover", () => {
  it("declines with its code until the recovery time on the customer's test clock (a payday), then succeeds", async () => {
    const payday = T0 + 10 * DAY;
    const { clock, customer, invoice } = await failedRenewal(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    const pmId = idOf(customer.invoice_settings.default_payment_method);
    const set = await recover(h.em, pmId, { at: payday });
    expect(set).toEqual({ status: 200, json: { payment_method: pmId, decline_code: "insufficient_funds", recover: { after_attempts: null, at: payday }, attempts: 1 } });
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("insufficient_funds");
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: payday - 1 });
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("insufficient_funds");
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: payday });
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("paid");
    const paid = await h.stripe.invoices.retrieve(invoice.id);
    expect([paid.status, paid.attempt_count, paid.status_transitions.paid_at]).toEqual(["paid", 4, payday]);
    const charges = (await h.stripe.charges.list({ customer: customer.id })).data.reverse();
    expect(charges.map((c) => [c.status, c.outcome?.reason ?? null, c.created])).toEqual([
      ["failed", "insufficient_funds", T0 + DAY + 3600],
      ["failed", "insufficient_funds", T0 + DAY + 2 * 3600],
      ["failed", "insufficient_funds", payday - 1],
      ["succeeded", null, payday],
    ]);
  });

  it("declines for its first after_attempts attempts (earlier ones counted), then succeeds", async () => {
    const { customer, invoice } = await failedRenewal(h.stripe, "pm_card_chargeDeclinedExpiredCard");
    const pmId = idOf(customer.invoice_settings.default_payment_method);
    expect((await recover(h.em, pmId, { after_attempts: 3 })).json).toMatchObject({ decline_code: "expired_card", recover: { after_attempts: 3, at: null }, attempts: 1 });
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("expired_card");
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("expired_card");
    expect(await declineCodeOfPay(h.stripe, invoice.id)).toBe("paid");
    expect((await h.stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(4);
  });

  it("refuses a card that never declines, an unknown payment method, a bad value and an unknown parameter, changing nothing", async () => {
    const { customer } = await clockCustomer(h.stripe, "pm_card_visa");
    const visa = idOf(customer.invoice_settings.default_payment_method);
    const declining = await h.stripe.paymentMethods.attach("pm_card_chargeDeclined", { customer: customer.id });
    expect((await recover(h.em, visa, { after_attempts: 1 })).status).toBe(400);
    expect((await recover(h.em, "pm_nope", { after_attempts: 1 })).status).toBe(404);
    expect((await recover(h.em, declining.id, { after_attempts: -1 })).status).toBe(400);
    expect((await recover(h.em, declining.id, { at: "tomorrow" })).status).toBe(400);
    expect((await recover(h.em, declining.id, { after: 1 })).status).toBe(400);
    expect((await recover(h.em, declining.id, {})).status).toBe(400);
    const cleared = await fetch(`${h.em.url}/_emulator/payment_methods/${declining.id}/recover`, { method: "DELETE" });
    expect(JSON.parse(await cleared.text())).toEqual({ payment_method: declining.id, decline_code: "generic_decline", recover: null, attempts: null });
  });
});

describe("Stripe's automatic retries (smartRetries option)", () => {
  it("are off by default: after a failure next_payment_attempt is null and nothing is retried as the clock advances", async () => {
    const { clock, sub, invoice } = await failedRenewal(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    expect([invoice.attempt_count, invoice.next_payment_attempt]).toEqual([1, null]);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 25 * DAY });
    const after = await h.stripe.invoices.retrieve(invoice.id);
    expect([after.status, after.attempt_count, after.next_payment_attempt]).toEqual(["open", 1, null]);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
  });

  describe("when on", () => {
    let h2: Harness;
    let p2: { local: Stripe.Price; mobile: Stripe.Price };
    beforeAll(async () => {
      h2 = await start({ smartRetries: { scheduleDays: [1, 3, 7], afterLastRetry: "unpaid" } });
      p2 = await catalog(h2.stripe);
    });
    afterAll(async () => {
      await h2.stop();
    });

    async function renewalFailing(pmRef: string): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription; invoice: Stripe.Invoice }> {
      const { clock, customer } = await clockCustomer(h2.stripe, pmRef);
      const sub = await h2.stripe.subscriptions.create({ customer: customer.id, items: [{ price: p2.local.id }], trial_period_days: 1 });
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure });
      const s = await h2.stripe.subscriptions.retrieve(sub.id);
      return { clock, customer, sub: s, invoice: await h2.stripe.invoices.retrieve(idOf(s.latest_invoice)) };
    }
    /** The renewal after the one-day trial is attempted when it finalizes, an hour later. */
    const firstFailure = T0 + DAY + 3600;

    it("set next_payment_attempt after each failure, retry when the test clock crosses it (a manual invoices.pay leaves the schedule), and after the last retry the subscription is unpaid", async () => {
      const { clock, customer, sub, invoice } = await renewalFailing("pm_card_chargeDeclinedInsufficientFunds");
      expect([sub.status, invoice.attempt_count, invoice.next_payment_attempt]).toEqual(["past_due", 1, firstFailure + DAY]);
      const manual = await h2.stripe.invoices.pay(invoice.id).catch((e: unknown) => e);
      expect(manual).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(await h2.stripe.invoices.retrieve(invoice.id)).toMatchObject({ attempt_count: 2, next_payment_attempt: firstFailure + DAY });
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + DAY - 1 });
      expect((await h2.stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(2);
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + DAY });
      expect(await h2.stripe.invoices.retrieve(invoice.id)).toMatchObject({ attempt_count: 3, next_payment_attempt: firstFailure + 3 * DAY });
      expect((await h2.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 20 * DAY });
      const last = await h2.stripe.invoices.retrieve(invoice.id);
      expect([last.status, last.attempt_count, last.next_payment_attempt]).toEqual(["open", 5, null]);
      expect((await h2.stripe.subscriptions.retrieve(sub.id)).status).toBe("unpaid");
      const failed = (await h2.stripe.events.list({ type: "invoice.payment_failed", limit: 100 })).data.reverse().flatMap((e) => {
        const o = e.data.object;
        return "attempt_count" in o && o.id === invoice.id ? [[o.attempt_count, e.created, o.next_payment_attempt]] : [];
      });
      expect(failed).toEqual([
        [1, firstFailure, firstFailure + DAY],
        [2, firstFailure, firstFailure + DAY],
        [3, firstFailure + DAY, firstFailure + 3 * DAY],
        [4, firstFailure + 3 * DAY, firstFailure + 7 * DAY],
        [5, firstFailure + 7 * DAY, null],
      ]);
      const charges = await h2.stripe.charges.list({ customer: customer.id });
      expect(charges.data.map((c) => c.created).reverse()).toEqual([firstFailure, firstFailure, firstFailure + DAY, firstFailure + 3 * DAY, firstFailure + 7 * DAY]);
      // Paying the invoice afterwards (a new card) makes the subscription active again.
      const visa = await h2.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
      expect((await h2.stripe.invoices.pay(invoice.id, { payment_method: visa.id })).status).toBe("paid");
      expect((await h2.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    });

    it("recover on the 3rd retry with a card created with metadata[emulator_recover_after_attempts]=3", async () => {
      const pm = await h2.stripe.paymentMethods.create({ type: "card", card: { token: "tok_chargeDeclinedInsufficientFunds" }, metadata: { emulator_recover_after_attempts: "3" } });
      const { clock, sub, invoice } = await renewalFailing(pm.id);
      expect(invoice.attempt_count).toBe(1);
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 20 * DAY });
      const paid = await h2.stripe.invoices.retrieve(invoice.id);
      expect([paid.status, paid.attempt_count, paid.status_transitions.paid_at, paid.next_payment_attempt]).toEqual(["paid", 4, firstFailure + 7 * DAY, null]);
      expect((await h2.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    });

    it("give way to a test clock's own schedule (/_emulator/test_clocks/:id/smart_retries) for that clock's customers, and apply again after its DELETE", async () => {
      const { clock, customer } = await clockCustomer(h2.stripe, "pm_card_chargeDeclinedInsufficientFunds");
      const control = `${h2.em.url}/_emulator/test_clocks/${clock.id}/smart_retries`;
      const set = await fetch(control, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ schedule_days: [2], after_last_retry: "past_due" }) });
      expect(JSON.parse(await set.text())).toMatchObject({ smart_retries: { schedule_days: [2], after_last_retry: "past_due" }, effective: { schedule_days: [2], after_last_retry: "past_due" } });
      const sub = await h2.stripe.subscriptions.create({ customer: customer.id, items: [{ price: p2.local.id }], trial_period_days: 1 });
      await h2.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 20 * DAY });
      const invoice = await h2.stripe.invoices.retrieve(idOf((await h2.stripe.subscriptions.retrieve(sub.id)).latest_invoice));
      expect([invoice.attempt_count, invoice.next_payment_attempt]).toEqual([2, null]);
      expect((await h2.stripe.charges.list({ customer: customer.id })).data.map((c) => c.created).reverse()).toEqual([firstFailure, firstFailure + 2 * DAY]);
      expect((await h2.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
      const cleared = await fetch(control, { method: "DELETE" });
      expect(JSON.parse(await cleared.text())).toEqual({ test_clock: clock.id, smart_retries: null, effective: { schedule_days: [1, 3, 7], after_last_retry: "unpaid" } });
    });

    it("do not retry a non-retryable decline (lost_card) or the first invoice of an incomplete subscription", async () => {
      const { sub, invoice } = await renewalFailing("pm_card_chargeDeclinedLostCard");
      expect([sub.status, invoice.attempt_count, invoice.next_payment_attempt]).toEqual(["past_due", 1, null]);
      const { customer } = await clockCustomer(h2.stripe, "pm_card_chargeDeclinedInsufficientFunds");
      const incomplete = await h2.stripe.subscriptions.create({ customer: customer.id, items: [{ price: p2.local.id }], expand: ["latest_invoice"] });
      expect(incomplete.status).toBe("incomplete");
      const first = incomplete.latest_invoice;
      expect(typeof first === "object" && first !== null ? first.next_payment_attempt : "not expanded").toBeNull();
    });
  });

  it("refuses a retry schedule Stripe could not have", async () => {
    await expect(start({ smartRetries: { scheduleDays: [3, 1], afterLastRetry: "unpaid" } })).rejects.toThrow(/increasing positive/);
  });
});

describe("automatic retries for one test clock (/_emulator/test_clocks/:id/smart_retries)", () => {
  async function clockRetries(clockId: string, method: "GET" | "POST" | "DELETE", body?: unknown, raw?: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const init: RequestInit = { method };
    if (body !== undefined || raw !== undefined) init.headers = { "content-type": "application/json" };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (raw !== undefined) init.body = raw;
    const res = await fetch(`${h.em.url}/_emulator/test_clocks/${clockId}/smart_retries`, init);
    return { status: res.status, json: JSON.parse(await res.text()) };
  }

  /** The renewal after the one-day trial is attempted when it finalizes, an hour later. */
  const firstFailure = T0 + DAY + 3600;

  function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null;
  }

  /** A customer on a fresh clock with a card that declines; `setup` runs before anything is billed. */
  async function subscribed(setup: (clockId: string) => Promise<void> = async () => {}): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer; sub: Stripe.Subscription }> {
    const { clock, customer } = await clockCustomer(h.stripe, "pm_card_chargeDeclinedInsufficientFunds");
    await setup(clock.id);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: prices.local.id }], trial_period_days: 1 });
    return { clock, customer, sub };
  }

  async function latestInvoice(subId: string): Promise<Stripe.Invoice> {
    return h.stripe.invoices.retrieve(idOf((await h.stripe.subscriptions.retrieve(subId)).latest_invoice));
  }

  it("retry the failed renewals of that clock's customers on its schedule and then apply after_last_retry, while a customer on another clock gets no retry", async () => {
    const on = await subscribed(async (clockId) => {
      const set = await clockRetries(clockId, "POST", { schedule_days: [3, 5], after_last_retry: "cancel" });
      expect(set).toEqual({
        status: 200,
        json: { test_clock: clockId, smart_retries: { schedule_days: [3, 5], after_last_retry: "cancel" }, effective: { schedule_days: [3, 5], after_last_retry: "cancel" } },
      });
    });
    const off = await subscribed();
    for (const { clock } of [on, off]) await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 60 });

    const onInvoice = await latestInvoice(on.sub.id);
    const offInvoice = await latestInvoice(off.sub.id);
    expect([onInvoice.status, onInvoice.attempt_count, onInvoice.next_payment_attempt]).toEqual(["open", 1, firstFailure + 3 * DAY]);
    expect([offInvoice.status, offInvoice.attempt_count, offInvoice.next_payment_attempt]).toEqual(["open", 1, null]);

    for (const { clock } of [on, off]) await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 3 * DAY });
    expect(await h.stripe.invoices.retrieve(onInvoice.id)).toMatchObject({ attempt_count: 2, next_payment_attempt: firstFailure + 5 * DAY });
    expect((await h.stripe.subscriptions.retrieve(on.sub.id)).status).toBe("past_due");
    expect(await h.stripe.invoices.retrieve(offInvoice.id)).toMatchObject({ attempt_count: 1, next_payment_attempt: null });

    for (const { clock } of [on, off]) await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 10 * DAY });
    expect(await h.stripe.invoices.retrieve(onInvoice.id)).toMatchObject({ status: "open", attempt_count: 3, next_payment_attempt: null });
    const canceled = await h.stripe.subscriptions.retrieve(on.sub.id);
    expect([canceled.status, canceled.cancellation_details?.reason]).toEqual(["canceled", "payment_failed"]);
    const charges = await h.stripe.charges.list({ customer: on.customer.id });
    expect(charges.data.map((c) => c.created).reverse()).toEqual([firstFailure, firstFailure + 3 * DAY, firstFailure + 5 * DAY]);
    expect(await h.stripe.invoices.retrieve(offInvoice.id)).toMatchObject({ status: "open", attempt_count: 1, next_payment_attempt: null });
    expect((await h.stripe.subscriptions.retrieve(off.sub.id)).status).toBe("past_due");
  });

  it("are off again after DELETE: a renewal failing on that clock gets no next_payment_attempt and is not retried", async () => {
    const { clock, sub } = await subscribed(async (clockId) => {
      expect((await clockRetries(clockId, "POST", { schedule_days: [1, 2], after_last_retry: "unpaid" })).status).toBe(200);
      expect(await clockRetries(clockId, "DELETE")).toEqual({ status: 200, json: { test_clock: clockId, smart_retries: null, effective: null } });
    });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 60 });
    const invoice = await latestInvoice(sub.id);
    expect([invoice.attempt_count, invoice.next_payment_attempt]).toEqual([1, null]);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 10 * DAY });
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: "open", attempt_count: 1, next_payment_attempt: null });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
  });

  it("after DELETE still make a retry that was already scheduled, and schedule none after it", async () => {
    const { clock, sub } = await subscribed(async (clockId) => {
      expect((await clockRetries(clockId, "POST", { schedule_days: [1, 2], after_last_retry: "unpaid" })).status).toBe(200);
    });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 60 });
    const invoice = await latestInvoice(sub.id);
    expect(invoice.next_payment_attempt).toBe(firstFailure + DAY);
    expect((await clockRetries(clock.id, "DELETE")).status).toBe(200);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: firstFailure + 10 * DAY });
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: "open", attempt_count: 2, next_payment_attempt: null });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
  });

  it("refuse an unknown clock (404 resource_missing) and a schedule Stripe could not have (400 naming the parameter), keeping the clock's setting as it was", async () => {
    for (const method of ["POST", "DELETE", "GET"] as const) {
      const missing = await clockRetries("clock_nope", method, method === "POST" ? { schedule_days: [3], after_last_retry: "unpaid" } : undefined);
      expect([missing.status, missing.json.error]).toEqual([404, expect.objectContaining({ type: "invalid_request_error", code: "resource_missing", message: "No such test_clock: 'clock_nope'" })]);
    }
    const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
    expect((await clockRetries(clock.id, "POST", { schedule_days: [3, 5, 7], after_last_retry: "past_due" })).status).toBe(200);
    const refused: [unknown, string | undefined, string, string | undefined][] = [
      [{ schedule_days: [3, 1], after_last_retry: "unpaid" }, "schedule_days", "increasing positive", undefined],
      [{ schedule_days: [0, 2], after_last_retry: "unpaid" }, "schedule_days", "increasing positive", undefined],
      [{ schedule_days: ["3"], after_last_retry: "unpaid" }, "schedule_days", "increasing positive", undefined],
      [{ schedule_days: 3, after_last_retry: "unpaid" }, "schedule_days", "increasing positive", undefined],
      [{ schedule_days: [3], after_last_retry: "void" }, "after_last_retry", '"cancel", "unpaid" or "past_due"', undefined],
      [{ schedule_days: [3] }, "after_last_retry", "Missing required param", "parameter_missing"],
      [{ after_last_retry: "unpaid" }, "schedule_days", "Missing required param", "parameter_missing"],
      [{ schedule_days: [3], after_last_retry: "unpaid", days: [3] }, "days", "unknown parameter", "parameter_unknown"],
    ];
    for (const [body, param, message, code] of refused) {
      const r = await clockRetries(clock.id, "POST", body);
      expect([r.status, r.json.error]).toEqual([400, expect.objectContaining({ type: "invalid_request_error", param, message: expect.stringContaining(message), ...(code ? { code } : {}) })]);
      expect(isRecord(r.json.error) ? r.json.error.code : "no error").toBe(code);
    }
    const notJson = await clockRetries(clock.id, "POST", undefined, "{schedule_days: [3]");
    expect([notJson.status, notJson.json.error]).toEqual([400, expect.objectContaining({ type: "invalid_request_error", message: "The body is not valid JSON." })]);
    expect((await clockRetries(clock.id, "GET")).json).toEqual({
      test_clock: clock.id,
      smart_retries: { schedule_days: [3, 5, 7], after_last_retry: "past_due" },
      effective: { schedule_days: [3, 5, 7], after_last_retry: "past_due" },
    });
  });
});

describe("ending an unpaid subscription: cancel, then mark its open invoice uncollectible", () => {
  it("cancelling leaves the open invoice open and unretried; invoices.markUncollectible makes it uncollectible on the clock's time with its event, still payable, and refuses it a second time", async () => {
    const { clock, customer, sub, invoice } = await failedRenewal(h.stripe, "pm_card_chargeCustomerFail");
    expect([sub.status, invoice.status]).toEqual(["past_due", "open"]);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 5 * DAY });
    const canceled = await h.stripe.subscriptions.cancel(sub.id);
    expect(canceled.status).toBe("canceled");
    // As Stripe does: cancelling stops new invoices but does not settle the finalized one.
    expect((await h.stripe.invoices.list({ subscription: sub.id, status: "open" })).data.map((i) => i.id)).toEqual([invoice.id]);

    const marked = await h.stripe.invoices.markUncollectible(invoice.id);
    expect([marked.status, marked.status_transitions.marked_uncollectible_at, marked.next_payment_attempt, marked.amount_remaining]).toEqual(["uncollectible", T0 + 5 * DAY, null, invoice.amount_due]);
    expect((await h.stripe.invoices.list({ subscription: sub.id, status: "open" })).data).toEqual([]);
    const [event] = (await events(h.stripe, ["invoice.marked_uncollectible"])).filter((e) => (e.data.object as Stripe.Invoice).id === invoice.id);
    expect(event?.created).toBe(T0 + 5 * DAY);

    const again = await h.stripe.invoices.markUncollectible(invoice.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((again as Stripe.errors.StripeInvalidRequestError).code).toBe("invoice_not_editable");

    // Stripe keeps an uncollectible invoice payable (the customer may still settle the debt).
    const card = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    expect((await h.stripe.invoices.pay(invoice.id, { payment_method: card.id })).status).toBe("paid");
  });
});
