import { env } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { customerRow, invoiceRow, subscriptionRow } from "../../worker/src/stripe-sync/mirror";
import { processEvent } from "../../worker/src/stripe-sync/process";
import type { Stripe } from "../../worker/src/stripe-sync/stripe";
import { customers, entitlements, invoices, paymentAttempts, stripeEvents, subscriptionHistory, subscriptions } from "../../worker/src/db/schema";
import { call, count, makeKey, svc } from "./helpers";
import { db, deliver, drained, ensurePrice, eventsFor, settled, stripe, stripeEvent, subscriber, testClock, webhookEvent } from "./stripe-helpers";

/** Every mirror row as it is, sync times included, and the audit log's length: to show nothing moved. */
async function mirror() {
  const all = (table: string) =>
    env.DB.prepare(`select * from ${table} order by rowid`)
      .all()
      .then((r) => r.results);
  return {
    customers: await all("customers"),
    subscriptions: await all("subscriptions"),
    invoices: await all("invoices"),
    entitlements: await all("entitlements"),
    history: await all("subscription_history"),
    attempts: await all("payment_attempts"),
    audit: await count("audit_log"),
  };
}

/**
 * A subscriber who pays through a subscription-mode Checkout Session tagged with
 * client_reference_id only (or, with fromSubscription, also a user_id in the subscription's
 * metadata), completed as the buyer would; the events are not delivered.
 */
async function checkoutSubscriber(opts: { fromSubscription: boolean }) {
  const reference = `user_checkout_${Date.now().toString(36)}`;
  const userId = opts.fromSubscription ? `from_subscription_metadata_${reference}` : reference;
  const price = await ensurePrice("local_monthly");
  const session = await stripe().checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: price.id, quantity: 1 }],
    client_reference_id: reference,
    success_url: "https://app.test/welcome",
    ...(opts.fromSubscription ? { subscription_data: { metadata: { user_id: userId } } } : {}),
  });
  const completed = await fetch(`${env.STRIPE_API_BASE}/v1/test_helpers/checkout/sessions/${session.id}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.STRIPE_SECRET_KEY}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ payment_method: "pm_card_visa", email: `${reference}@example.test` }).toString(),
  });
  expect(completed.status).toBe(200);
  const done = await stripe().checkout.sessions.retrieve(session.id);
  const customerId = done.customer as string;
  const subId = done.subscription as string;
  expect(((await stripe().customers.retrieve(customerId)) as Stripe.Customer).metadata.user_id).toBeUndefined();
  const invoiceIds = (await stripe().invoices.list({ customer: customerId })).data.map((i) => i.id);
  const events = await eventsFor([customerId, subId, session.id, ...invoiceIds]);
  expect(events.map((e) => e.type)).toContain("checkout.session.completed");
  return { reference, userId, customerId, subId, events };
}

/** The user has access, the mirror knows whose customer and subscription these are, and so does Stripe. */
async function expectCheckoutUser({ userId, customerId, subId }: { userId: string; customerId: string; subId: string }) {
  expect(await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get()).toMatchObject({ tier: "local", status: "active", subscriptionId: subId });
  expect((await db().select().from(customers).where(eq(customers.id, customerId)).get())?.userId).toBe(userId);
  expect((await db().select().from(subscriptions).where(eq(subscriptions.id, subId)).get())?.userId).toBe(userId);
  // Written on Stripe, so every later event about this customer resolves the user too.
  expect(((await stripe().customers.retrieve(customerId)) as Stripe.Customer).metadata.user_id).toBe(userId);
}

describe("webhooks: happy path", () => {
  it("stores a signed event, answers 200, and mirrors the subscription and the user's access", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "mobile_monthly" });
    const events = await eventsFor([customer.id, sub.id]);
    expect(events.map((e) => e.type)).toContain("customer.subscription.created");
    for (const e of events) {
      const res = await deliver(e);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: true, duplicate: false });
      expect(await settled(e.id)).toBe("processed");
    }
    const row = await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get();
    expect(row).toMatchObject({ status: "active", tier: "mobile", unitAmount: 4900, currency: "usd", userId, mrr: 4900 });
    expect((await db().select().from(customers).where(eq(customers.id, customer.id)).get())?.userId).toBe(userId);
    expect(await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get()).toMatchObject({ tier: "mobile", status: "active" });
    const history = await db().select().from(subscriptionHistory).where(eq(subscriptionHistory.subscriptionId, sub.id)).all();
    expect(history[0]?.changes).toBe("created");
  });

  for (const [who, fromSubscription] of [
    ["only client_reference_id", false],
    // The subscription's metadata comes first when the app set it too.
    ["client_reference_id and a user_id in the subscription's metadata", true],
  ] as const) {
    it(`gives access to a subscriber who paid through Checkout with ${who}, and writes the user id onto the Stripe customer`, async () => {
      const { reference, userId, customerId, subId, events } = await checkoutSubscriber({ fromSubscription });
      for (const e of events) {
        expect((await deliver(e)).status).toBe(200);
        expect(await settled(e.id)).toBe("processed");
      }
      await expectCheckoutUser({ userId, customerId, subId });
      if (userId !== reference) expect(await db().select().from(entitlements).where(eq(entitlements.userId, reference)).get()).toBeUndefined();
    }, 30_000);
  }

  it("gives a Checkout subscriber known only by client_reference_id access when the session's event is processed after the customer's other events", async () => {
    const { userId, customerId, subId, events } = await checkoutSubscriber({ fromSubscription: false });
    const completed = events.find((e) => e.type === "checkout.session.completed")!;
    // Received in the same burst as the others, but its processing comes last: by then the
    // customer and subscription were synced after it arrived, user-less.
    const { storeEvent } = await import("../../worker/src/stripe-sync/events");
    await storeEvent(db(), webhookEvent(completed, { receivedAt: Date.now() }), Date.now());
    for (const e of events.filter((x) => x !== completed)) {
      await deliver(e);
      await settled(e.id);
    }
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, subId)).get())?.userId).toBeNull();
    expect(await processEvent(svc(), completed.id)).toBe("processed");
    await expectCheckoutUser({ userId, customerId, subId });
  }, 30_000);

  it("changes nothing for a correctly signed checkout.session.completed naming a session Stripe never made", async () => {
    // A paying customer Stripe knows without a user id: what a forged event would try to claim.
    const victim = await checkoutSubscriber({ fromSubscription: false });
    const real = victim.events.find((e) => e.type === "checkout.session.completed")!;
    const attacker = `attacker_${Date.now().toString(36)}`;
    const forged = {
      ...real,
      id: `evt_forged_${Date.now().toString(36)}`,
      data: { object: { ...(real.data.object as Stripe.Checkout.Session), id: `cs_test_never_made_${Date.now().toString(36)}`, client_reference_id: attacker } },
    };
    await drained();
    const before = await mirror();
    expect((await deliver(forged)).status).toBe(200);
    expect(await settled(forged.id)).toBe("processed");
    await drained();
    expect(((await stripe().customers.retrieve(victim.customerId)) as Stripe.Customer).metadata.user_id).toBeUndefined();
    expect(await db().select().from(entitlements).where(eq(entitlements.userId, attacker)).get()).toBeUndefined();
    expect(await mirror()).toEqual(before);
  }, 30_000);

  it("acts on Stripe's copy of a Checkout session when a signed event's payload names another customer and client_reference_id", async () => {
    const buyer = await checkoutSubscriber({ fromSubscription: false });
    const victim = await checkoutSubscriber({ fromSubscription: false });
    const attacker = `attacker_${Date.now().toString(36)}`;
    const completed = buyer.events.find((e) => e.type === "checkout.session.completed")!;
    for (const e of buyer.events.filter((x) => x !== completed)) {
      await deliver(e);
      await settled(e.id);
    }
    // The buyer's real session id, with the payload's customer, subscription and reference swapped.
    const tampered = {
      ...completed,
      data: { object: { ...(completed.data.object as Stripe.Checkout.Session), customer: victim.customerId, subscription: victim.subId, client_reference_id: attacker } },
    };
    expect((await deliver(tampered)).status).toBe(200);
    expect(await settled(completed.id)).toBe("processed");
    await expectCheckoutUser(buyer);
    expect(((await stripe().customers.retrieve(victim.customerId)) as Stripe.Customer).metadata.user_id).toBeUndefined();
    expect(await db().select().from(entitlements).where(eq(entitlements.userId, attacker)).get()).toBeUndefined();
  }, 30_000);

  it("mirrors a subscriber whose metadata.user_id is not a valid user id as user-less, and gives that id no access", async () => {
    // Anyone with access to Stripe's dashboard can type metadata; the API could never look this id up.
    const invalid = `user/${Date.now().toString(36)}`;
    const { customer, sub } = await subscriber({ userId: invalid });
    for (const e of await eventsFor([customer.id, sub.id])) {
      expect((await deliver(e)).status).toBe(200);
      expect(await settled(e.id)).toBe("processed");
    }
    expect(await db().select({ userId: subscriptions.userId, status: subscriptions.status }).from(subscriptions).where(eq(subscriptions.id, sub.id)).get()).toEqual({ userId: null, status: "active" });
    expect((await db().select().from(customers).where(eq(customers.id, customer.id)).get())?.userId).toBeNull();
    expect(await db().select().from(entitlements).where(eq(entitlements.userId, invalid)).get()).toBeUndefined();
  });

  it("accepts a delivery signed with the previous secret during a rotation", async () => {
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    const res = await deliver(created!, { secret: "whsec_test_previous" });
    expect(res.status).toBe(200);
    expect(await settled(created!.id)).toBe("processed");
  });

  it("treats a duplicate delivery as a no-op", async () => {
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    await deliver(created!);
    await settled(created!.id);
    const before = await db().select().from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get();
    const audits = await count("audit_log");
    const res = await deliver(created!);
    // Accepted onto the queue: the duplicate is recognised by the consumer, not in the answer.
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    await drained();
    expect(await db().select().from(stripeEvents).where(eq(stripeEvents.id, created!.id)).all()).toEqual([before]);
    expect(await count("audit_log")).toBe(audits);
  });

  it("stores an event that cannot change the mirror as processed, without touching Stripe", async () => {
    const event = stripeEvent(`evt_charge_${Date.now()}`, "charge.succeeded", { id: "ch_1", object: "charge" });
    expect((await deliver(event)).status).toBe(200);
    expect(await settled(event.id)).toBe("processed");
    expect(await db().select({ status: stripeEvents.status, attempts: stripeEvents.attempts }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).get()).toEqual({
      status: "processed",
      attempts: 0,
    });
  });

  it("processes a signed invoice.payment_failed whose object is no invoice without recording an attempt or retrying it", async () => {
    const event = stripeEvent(`evt_not_an_invoice_${Date.now()}`, "invoice.payment_failed", { object: "charge" });
    expect((await deliver(event)).status).toBe(200);
    expect(await settled(event.id)).toBe("processed");
    expect(
      await db().select({ status: stripeEvents.status, attempts: stripeEvents.attempts, lastError: stripeEvents.lastError }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).get(),
    ).toEqual({
      status: "processed",
      attempts: 1,
      lastError: null,
    });
  });

  for (const [type, object] of [
    ["payout.paid", { id: "po_unlisted", object: "payout", amount: 2900, currency: "usd", status: "paid" }],
    // A type Stripe might add tomorrow.
    ["foo.bar_baz", { id: "foo_unlisted", object: "foo" }],
  ] as const) {
    it(`stores a signed ${type} event, of a type it has no use for, once and as processed, and changes no mirror row`, async () => {
      await drained();
      const before = await mirror();
      const event = stripeEvent(`evt_unlisted_${type.replace(/\W/g, "_")}_${Date.now()}`, type, object);
      for (let delivery = 1; delivery <= 2; delivery++) {
        const res = await deliver(event);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ received: true, duplicate: false });
      }
      await drained();
      expect(await db().select({ type: stripeEvents.type, status: stripeEvents.status, attempts: stripeEvents.attempts }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).all()).toEqual([
        { type, status: "processed", attempts: 0 },
      ]);
      expect(await mirror()).toEqual(before);
    });
  }

  it("stores a signed well-formed event whose livemode and api_version are missing or not what Stripe sends", async () => {
    // The 200 promises the event is durable: its row must not depend on fields the check does not require.
    for (const [n, extra] of [{}, { livemode: "yes", api_version: { pinned: 1 } }].entries()) {
      const event = { id: `evt_sparse_${n}_${Date.now()}`, type: "charge.succeeded", created: Math.floor(Date.now() / 1000), data: { object: { id: "ch_sparse", object: "charge" } }, ...extra };
      expect((await deliver(event)).status).toBe(200);
      expect(await settled(event.id, 5_000)).toBe("processed");
    }
  }, 20_000);

  for (const [what, description] of [
    ["ASCII", "x".repeat(125_000)],
    // 45,000 three-byte characters: few characters, but over the 128 KB message limit in UTF-8.
    ["multi-byte", "€".repeat(45_000)],
  ] as const) {
    it(`stores an event too large for a queue message (${what}) directly, and then knows a duplicate at once`, async () => {
      const event = stripeEvent(`evt_big_${what.length}_${Date.now()}`, "charge.succeeded", { id: "ch_big", object: "charge", description });
      const first = await deliver(event);
      expect(await first.json()).toEqual({ received: true, duplicate: false });
      // Stored before the answer, not by the consumer.
      expect(await db().select({ status: stripeEvents.status, payload: stripeEvents.payload }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).get()).toEqual({
        status: "processed",
        payload: JSON.stringify(event),
      });
      expect(await (await deliver(event)).json()).toEqual({ received: true, duplicate: true });
    });
  }

  it("ends on Stripe's state when events arrive newest first", async () => {
    const { userId, sub } = await subscriber({ lookupKey: "local_monthly" });
    const mobile = (await stripe().prices.list({ lookup_keys: ["mobile_monthly"] })).data[0]!;
    await stripe().subscriptions.update(sub.id, { items: [{ id: sub.items.data[0]!.id, price: mobile.id }], proration_behavior: "none" });
    await stripe().subscriptions.update(sub.id, { cancel_at_period_end: true });
    const subEvents = (await eventsFor([sub.id])).filter((e) => e.type.startsWith("customer.subscription."));
    for (const e of [...subEvents].reverse()) {
      await deliver(e);
      await settled(e.id);
    }
    const row = await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get();
    expect(row).toMatchObject({ tier: "mobile", unitAmount: 4900, cancelAtPeriodEnd: true });
    expect((await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())?.tier).toBe("mobile");
  });

  it("records a failed payment with its decline code and marks the user past due", async () => {
    const clock = await testClock();
    const { userId, customer, sub } = await subscriber({ card: "pm_card_chargeDeclinedInsufficientFunds", trialDays: 7, testClock: clock.id });
    await clock.advanceDays(8);
    const events = await eventsFor([customer.id, sub.id, ...(await stripe().invoices.list({ customer: customer.id })).data.map((i) => i.id)]);
    for (const e of events) {
      await deliver(e);
      await settled(e.id);
    }
    const current = await stripe().subscriptions.retrieve(sub.id);
    const row = await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get();
    expect(row?.status).toBe(current.status);
    expect(current.status).toBe("past_due");
    expect((await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())?.status).toBe("past_due");
    const attempts = await db().select().from(paymentAttempts).where(eq(paymentAttempts.customerId, customer.id)).all();
    expect(attempts.some((a) => a.outcome === "failed" && a.declineCode === "insufficient_funds")).toBe(true);
  });
});

describe("webhooks: metadata is input", () => {
  it("a metadata.user_id that is not a user id is ignored and logged: customer and subscription stay user-less, nobody gets access", async () => {
    // Anyone with dashboard access can type metadata; this one the API could never be asked about.
    const invalid = `not a user id ${Date.now().toString(36)}!`;
    const price = await ensurePrice("local_monthly");
    const customer = await stripe().customers.create({
      email: `meta_${Date.now().toString(36)}@example.test`,
      metadata: { user_id: invalid },
      payment_method: "pm_card_visa",
      invoice_settings: { default_payment_method: "pm_card_visa" },
    });
    const sub = await stripe().subscriptions.create({ customer: customer.id, items: [{ price: price.id }], metadata: { user_id: invalid, tier: "local" } });
    const warned = vi.spyOn(console, "error");
    try {
      for (const e of await eventsFor([customer.id, sub.id])) {
        expect((await deliver(e)).status).toBe(200);
        expect(await settled(e.id)).toBe("processed");
      }
      const warnings = warned.mock.calls.map(([line]) => String(line)).filter((line) => line.includes("metadata.user_id is not a user id"));
      expect(warnings.some((line) => line.includes(customer.id))).toBe(true);
      expect(warnings.some((line) => line.includes(sub.id))).toBe(true);
      // The id itself is input, not logged.
      expect(warnings.some((line) => line.includes(invalid))).toBe(false);
    } finally {
      warned.mockRestore();
    }
    expect(await db().select().from(customers).where(eq(customers.id, customer.id)).get()).toMatchObject({ userId: null });
    expect(await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get()).toMatchObject({ userId: null, status: "active" });
    expect(await db().select().from(entitlements).where(eq(entitlements.userId, invalid)).all()).toEqual([]);
    expect(await db().select().from(subscriptionHistory).where(eq(subscriptionHistory.subscriptionId, sub.id)).all()).toEqual([expect.objectContaining({ userId: null })]);
  });
});

describe("webhooks: bad input stores nothing", () => {
  async function rejected(res: Response, field = "header.stripe-signature") {
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const p = await res.json<{ errors?: { field: string }[] }>();
    if (field) expect(p.errors?.[0]?.field).toBe(field);
  }
  const event = (type = "customer.updated") => stripeEvent(`evt_bad_${Math.random().toString(36).slice(2)}`, type, { id: "cus_x", object: "customer" });

  it("rejects a bad signature", async () => {
    const before = await count("stripe_events");
    await rejected(await deliver(event(), { secret: "whsec_attacker" }));
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a signature from a rotated-out secret", async () => {
    const before = await count("stripe_events");
    await rejected(await deliver(event(), { secret: "whsec_test_retired_last_month" }));
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a timestamp outside the 300 s tolerance", async () => {
    const before = await count("stripe_events");
    const res = await deliver(event(), { timestamp: Math.floor(Date.now() / 1000) - 301 });
    await rejected(res);
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a correctly signed timestamp more than the tolerance in the future", async () => {
    const before = await count("stripe_events");
    // stripe-node measures only the signature's age, so a header dated ahead would be replayable until then.
    const res = await deliver(event(), { timestamp: Math.floor(Date.now() / 1000) + 301 });
    const problem = await res.clone().json<{ detail: string }>();
    await rejected(res);
    expect(problem.detail).toMatch(/more than 300 s from now/);
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a header dated in the future however its timestamp is written: a second t=, or digits followed by junk", async () => {
    const { sign } = await import("./stripe-helpers");
    const ev = event();
    const now = Math.floor(Date.now() / 1000);
    const ahead = now + 3600;
    const signature = (await sign(JSON.stringify(ev), undefined, ahead)).split(",").find((p) => p.startsWith("v1="))!;
    const before = await count("stripe_events");
    // stripe-node keeps the last t= and reads it with parseInt: both headers below verify there.
    for (const header of [`t=${now},t=${ahead},${signature}`, `t=${ahead}x,${signature}`]) await rejected(await deliver(ev, { header }));
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a missing signature header", async () => {
    const before = await count("stripe_events");
    await rejected(await deliver(event(), { header: null }));
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a malformed header", async () => {
    await rejected(await deliver(event(), { header: "garbage" }));
  });

  it("rejects signed malformed JSON", async () => {
    const { SELF } = await import("cloudflare:test");
    const { sign } = await import("./stripe-helpers");
    const body = '{"id": "evt_1", "type": ';
    const before = await count("stripe_events");
    const res = await SELF.fetch("http://billing.test/webhooks/stripe", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": await sign(body) }, body });
    expect(res.status).toBe(400);
    expect((await res.json<{ type: string }>()).type).toMatch(/malformed-json$/);
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a signed event whose type is not dotted lowercase", async () => {
    const before = await count("stripe_events");
    for (const type of ["NotAType", "a", "refund.", "refund..created", "Refund.Created", "refund created"]) await rejected(await deliver(event(type)), "body.type");
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a signed event without an evt_ id, a created in Unix seconds or a data.object, naming the field", async () => {
    const before = await count("stripe_events");
    for (const id of ["ch_not_an_event", `evt_${"x".repeat(300)}`, "evt_ü"]) await rejected(await deliver({ ...event(), id }), "body.id");
    for (const created of ["yesterday", 1.5, -1, 1e308]) await rejected(await deliver({ ...event(), created }), "body.created");
    for (const data of [{}, { object: null }, { object: [] }, { object: "cus_x" }]) await rejected(await deliver({ ...event(), data }), "body.data.object");
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a signed JSON body that is not an object with 400, not 500", async () => {
    const { SELF } = await import("cloudflare:test");
    const { sign } = await import("./stripe-helpers");
    const before = await count("stripe_events");
    for (const body of ["null", "[]", "42", '"evt_1"']) {
      await rejected(
        await SELF.fetch("http://billing.test/webhooks/stripe", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": await sign(body) }, body }),
        "body.id",
      );
    }
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });

  it("rejects a body over 1 MiB with 413", async () => {
    const before = await count("stripe_events");
    const big = { ...event(), padding: "x".repeat(1024 * 1024) };
    const res = await deliver(big);
    expect(res.status).toBe(413);
    await drained();
    expect(await count("stripe_events")).toBe(before);
  });
});

describe("webhooks: failures, crashes and replay", () => {
  it("leaves the event to be retried and the tables untouched when processing crashes mid-way", async () => {
    const { SimulatedCrash } = await import("../../worker/src/stripe-sync/process");
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    const { storeEvent } = await import("../../worker/src/stripe-sync/events");
    await storeEvent(db(), webhookEvent(created!), Date.now());
    const t0 = Date.now();
    await expect(
      processEvent(
        {
          ...svc(t0),
          fault: (stage) => {
            if (stage === "before_commit") throw new SimulatedCrash("isolate died");
          },
        },
        created!.id,
      ),
    ).rejects.toThrow("isolate died");
    expect(await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get()).toBeUndefined();
    // While the dead processor's lease runs, nobody else takes it; after it, the sweep does.
    expect(await processEvent(svc(t0 + 1000), created!.id)).toBe("skipped");
    const { runCron } = await import("../../worker/src/cron");
    await runCron("* * * * *", svc(t0 + 61_000));
    expect((await db().select().from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get())?.status).toBe("processed");
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
  });

  it("retries a failing event with growing delays and parks it, visible, after the limit", async () => {
    const { storeEvent, MAX_ATTEMPTS, BACKOFF_MS } = await import("../../worker/src/stripe-sync/events");
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    await storeEvent(db(), webhookEvent(created!), Date.now());
    let t = Date.now();
    const delays: number[] = [];
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      const outcome = await processEvent(
        {
          ...svc(t),
          fault: () => {
            throw new Error("Stripe is down");
          },
        },
        created!.id,
      );
      const row = (await db().select().from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get())!;
      if (i < MAX_ATTEMPTS) {
        expect(outcome).toBe("retry");
        delays.push(row.nextAttemptAt! - t);
        t = row.nextAttemptAt!;
      } else expect(outcome).toBe("parked");
    }
    expect(delays).toEqual(BACKOFF_MS);
    const admin = (await makeKey("admin")).key;
    const listed = await (await call("GET", "/v1/events?status=parked", { key: admin })).json<{ data: { id: string; attempts: number; last_error: string }[] }>();
    expect(listed.data.find((e) => e.id === created!.id)).toMatchObject({ attempts: MAX_ATTEMPTS, last_error: "Error: Stripe is down" });
    // An admin replay brings it back once Stripe is reachable.
    const replay = await call("POST", `/v1/events/${created!.id}/replay`, { key: admin });
    expect(await replay.json()).toEqual({ requeued: 1, processed: 1, failed: 0 });
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
  });

  it("rewrites hand-changed mirror rows and the entitlement from Stripe when one event, or a range, is replayed", async () => {
    const { userId, customer, sub } = await subscriber({ lookupKey: "mobile_monthly" });
    const [invoice] = (await stripe().invoices.list({ customer: customer.id })).data;
    const events = await eventsFor([customer.id, sub.id, invoice!.id]);
    for (const e of events) {
      await deliver(e);
      await settled(e.id);
    }
    const withoutSync = <T extends { syncedAt: number }>({ syncedAt: _s, ...row }: T) => row;
    // The user's state, not the bookkeeping of when and how often the row was written.
    const entitlementNow = async () => {
      const { customerId, subscriptionId, tier, status, trialEnd, graceUntil, suspendedAt, currentPeriodEnd } = (await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())!;
      return { customerId, subscriptionId, tier, status, trialEnd, graceUntil, suspendedAt, currentPeriodEnd };
    };
    const entitlementBefore = await entitlementNow();
    expect(entitlementBefore).toMatchObject({ tier: "mobile", status: "active", subscriptionId: sub.id });
    const expectMirrorToEqualStripe = async () => {
      const [c, s, i] = await Promise.all([
        stripe().customers.retrieve(customer.id, { expand: ["invoice_settings.default_payment_method"] }),
        stripe().subscriptions.retrieve(sub.id, { expand: ["default_payment_method"] }),
        stripe().invoices.retrieve(invoice!.id),
      ]);
      expect(withoutSync((await db().select().from(customers).where(eq(customers.id, customer.id)).get())!)).toEqual(withoutSync(customerRow(c as Stripe.Customer, 0, null, () => {})));
      expect(withoutSync((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())!)).toEqual(withoutSync(subscriptionRow(s, userId, null, 0)));
      expect(withoutSync((await db().select().from(invoices).where(eq(invoices.id, invoice!.id)).get())!)).toEqual(withoutSync(invoiceRow(i, userId, 0)));
      expect(await entitlementNow()).toEqual(entitlementBefore);
    };
    await expectMirrorToEqualStripe();
    // Someone edits the mirror by hand (or a bug wrote nonsense): the sync times stay as they were.
    const tamper = () =>
      env.DB.batch([
        env.DB.prepare("update customers set email = 'tampered@example.test', country = 'ZZ' where id = ?").bind(customer.id),
        env.DB.prepare("update subscriptions set status = 'canceled', mrr = 0, cancel_at_period_end = 1 where id = ?").bind(sub.id),
        env.DB.prepare("update invoices set status = 'void', amount_paid = 0 where id = ?").bind(invoice!.id),
        env.DB.prepare("update entitlements set status = 'canceled', tier = null where user_id = ?").bind(userId),
      ]);
    const admin = (await makeKey("admin")).key;

    await tamper();
    // invoice.paid is about the invoice, and through it the subscription, the customer and the user.
    const paid = events.find((e) => e.type === "invoice.paid")!;
    expect(await (await call("POST", `/v1/events/${paid.id}/replay`, { key: admin })).json()).toEqual({ requeued: 1, processed: 1, failed: 0 });
    await expectMirrorToEqualStripe();

    await tamper();
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const range = await (await call("POST", "/v1/events/replay", { key: admin, body: { from: iso(events[0]!.created), to: iso(events.at(-1)!.created) } })).json<{
      requeued: number;
      processed: number;
      failed: number;
    }>();
    expect(range.requeued).toBeGreaterThanOrEqual(events.length);
    expect(range).toMatchObject({ processed: range.requeued, failed: 0 });
    await expectMirrorToEqualStripe();
  }, 30_000);

  it("replays exactly the events created in a time range", async () => {
    const { storeEvent } = await import("../../worker/src/stripe-sync/events");
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    // Two copies dated in 2020, one inside the range and one outside it.
    const inside = { ...created!, id: `evt_range_in_${Date.now()}`, created: Date.UTC(2020, 0, 1, 12) / 1000 };
    const outside = { ...created!, id: `evt_range_out_${Date.now()}`, created: Date.UTC(2020, 5, 1) / 1000 };
    for (const e of [inside, outside]) await storeEvent(db(), webhookEvent(e, { needsProcessing: false }), Date.now());
    const admin = (await makeKey("admin")).key;
    const res = await call("POST", "/v1/events/replay", { key: admin, body: { from: "2020-01-01T00:00:00Z", to: "2020-01-02T00:00:00Z" } });
    expect(await res.json()).toEqual({ requeued: 1, processed: 1, failed: 0 });
    const rows = await db()
      .select({ id: stripeEvents.id, attempts: stripeEvents.attempts, status: stripeEvents.status })
      .from(stripeEvents)
      .where(inArray(stripeEvents.id, [inside.id, outside.id]))
      .all();
    expect(rows.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { id: inside.id, attempts: 1, status: "processed" },
      { id: outside.id, attempts: 0, status: "processed" },
    ]);
  });

  it("rejects a replay range that ends before it starts, naming the field", async () => {
    const admin = (await makeKey("admin")).key;
    const res = await call("POST", "/v1/events/replay", { key: admin, body: { from: "2020-01-02T00:00:00Z", to: "2020-01-01T00:00:00Z" } });
    expect(res.status).toBe(400);
    expect((await res.json<{ errors: { field: string }[] }>()).errors[0]!.field).toBe("body.to");
  });

  it("answers a replay of an unknown event with 404", async () => {
    const admin = (await makeKey("admin")).key;
    expect((await call("POST", "/v1/events/evt_nope/replay", { key: admin })).status).toBe(404);
  });
});

describe("reconciliation and resync", () => {
  const stored = (ids: string[]) => db().select({ id: stripeEvents.id, source: stripeEvents.source }).from(stripeEvents).where(inArray(stripeEvents.id, ids)).all();
  // The suite's one emulator holds the events of every file run before this one: a walk stores at
  // most 2,000 new events and says it is not complete, and the next run, from the same
  // checkpoint, goes on. Each unfinished run must have stored its full share. How many events
  // there are depends on the files run before, hence the long timeouts of the two tests below.
  const reconcileFully = async () => {
    const { reconcile } = await import("../../worker/src/stripe-sync/reconcile");
    let stored = 0;
    for (let run = 0; run < 30; run++) {
      const result = await reconcile(svc());
      stored += result.stored;
      if (result.complete) return { ...result, stored };
      expect(result.stored).toBe(2000);
    }
    throw new Error("reconciliation did not complete in 30 runs");
  };

  it("fills in events that were never delivered, and on the next run those created since", async () => {
    const { sub } = await subscriber();
    const result = await reconcileFully();
    expect(result.complete).toBe(true);
    expect(result.stored).toBeGreaterThan(0);
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
    // A second run must still find what is new (the emulator sends no webhooks to this suite),
    // while the events it lists again in its overlap window are not stored twice.
    const later = await subscriber();
    const again = await reconcileFully();
    expect(again.complete).toBe(true);
    const laterEvents = (await eventsFor([later.customer.id, later.sub.id])).map((e) => e.id);
    expect(await stored(laterEvents)).toEqual(expect.arrayContaining(laterEvents.map((id) => ({ id, source: "reconcile" }))));
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, later.sub.id)).get())?.status).toBe("active");
    expect(again.listed).toBeGreaterThan(again.stored);
  }, 180_000);

  it("keeps finding new events after a test clock has run 40 days ahead of real time", async () => {
    // Events on a test clock are dated in simulated time: these are 40 days in the future.
    const clock = await testClock();
    await subscriber({ testClock: clock.id, trialDays: 7 });
    await clock.advanceDays(40);
    const ahead = await reconcileFully();
    expect(ahead.complete).toBe(true);
    expect(ahead.checkpoint).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    // A subscription made afterwards in real time, whose webhooks never arrive.
    const { customer, sub } = await subscriber();
    const next = await reconcileFully();
    const missed = (await eventsFor([customer.id, sub.id])).map((e) => e.id);
    expect(next.stored).toBeGreaterThanOrEqual(missed.length);
    expect(await stored(missed)).toHaveLength(missed.length);
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
  }, 180_000);

  it("stores an event of a type it has no use for that only reconciliation found, as processed", async () => {
    const { reconcile } = await import("../../worker/src/stripe-sync/reconcile");
    const refund = stripeEvent(`evt_reconciled_payout_${Date.now()}`, "payout.paid", { id: "po_reconciled", object: "payout" }, { pending_webhooks: 0 });
    // The emulator has no payouts: Stripe's event list is stood in for by stripe-node's shape, an async iterable.
    const listsRefund = {
      events: {
        list: () =>
          (async function* () {
            yield refund;
          })(),
      },
    } as unknown as Stripe;
    const s = svc();
    const result = await reconcile({ db: s.db, clock: s.clock, audit: s.audit, log: s.log, appBaseUrl: s.appBaseUrl, dunning: s.dunning, syncFollowers: s.syncFollowers, stripe: listsRefund });
    expect(result).toMatchObject({ listed: 1, stored: 1, complete: true });
    expect(await db().select({ type: stripeEvents.type, source: stripeEvents.source, status: stripeEvents.status }).from(stripeEvents).where(eq(stripeEvents.id, refund.id)).get()).toEqual({
      type: "payout.paid",
      source: "reconcile",
      status: "processed",
    });
  });

  it("rebuilds wiped mirror tables with the same rows", async () => {
    // Its own customers: other test files run at the same time against the same Stripe, so
    // theirs may change between the two resyncs; these do not.
    const mine = [await subscriber({ lookupKey: "mobile_monthly" }), await subscriber({ lookupKey: "local_monthly", trialDays: 7 })];
    const ids = new Set(mine.map((m) => m.customer.id));
    const admin = (await makeKey("admin")).key;
    const run = async (restart: boolean) => {
      let state = await (await call("POST", "/v1/admin/resync", { key: admin, body: { restart, pages: 1 } })).json<{ phase: string }>();
      for (let i = 0; state.phase !== "done" && i < 100; i++) state = await (await call("POST", "/v1/admin/resync", { key: admin, body: { pages: 1 } })).json<{ phase: string }>();
      expect(state.phase).toBe("done");
    };
    await run(true);
    const snapshot = async () => {
      const strip = <T extends { syncedAt: number }>(rows: T[]) => rows.map(({ syncedAt: _s, ...r }) => r).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      return {
        customers: strip((await db().select().from(customers).all()).filter((c) => ids.has(c.id))),
        subscriptions: strip((await db().select().from(subscriptions).all()).filter((x) => ids.has(x.customerId))),
        invoices: strip((await db().select().from(invoices).all()).filter((x) => ids.has(x.customerId))),
        // updated_at and version count writes, not state: a rebuild writes afresh.
        entitlements: (await db().select().from(entitlements).all())
          .filter((e) => e.customerId !== null && ids.has(e.customerId))
          .map(({ updatedAt: _u, version: _v, ...r }) => r)
          .sort((a, b) => a.userId.localeCompare(b.userId)),
      };
    };
    const before = await snapshot();
    expect(before).toMatchObject({ customers: { length: 2 }, subscriptions: { length: 2 }, entitlements: { length: 2 } });
    expect(before.invoices.length).toBeGreaterThanOrEqual(2);
    // Stripe's lists carry the customers' cards expanded, so the rebuild keeps their expiry too.
    expect(before.customers.every((c) => c.cardExpiresAt !== null)).toBe(true);
    const total = (await db().select().from(subscriptions).all()).length;
    await env.DB.batch(["customers", "subscriptions", "invoices", "entitlements"].map((t) => env.DB.prepare(`delete from ${t}`)));
    await run(true);
    expect(await snapshot()).toEqual(before);
    // Everything else Stripe has came back too (possibly changed meanwhile by other files).
    expect((await db().select().from(subscriptions).all()).length).toBeGreaterThanOrEqual(total);
  });
});
