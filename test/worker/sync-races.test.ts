import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { claimEvent, LEASE_MS, markFailed, storeEvent } from "../../worker/src/stripe-sync/events";
import { processEvent } from "../../worker/src/stripe-sync/process";
import { emptyFetched, emptyTargets, syncObjects, writeObjects } from "../../worker/src/stripe-sync/sync";
import { entitlements, invoices, stripeEvents, subscriptions } from "../../worker/src/db/schema";
import { call, makeKey, svc } from "./helpers";
import { db, deliver, ensurePrice, eventsFor, settled, stripe, subscriber, webhookEvent } from "./stripe-helpers";

const why = (cause: string) => ({ actor: { type: "system" as const, id: "test" }, cause, at: Date.now() });

describe("sync races", () => {
  it("keeps the newer state when an older fetch of the same subscription commits last", async () => {
    const { sub } = await subscriber();
    const targets = emptyTargets();
    targets.subscriptions.add(sub.id);
    await syncObjects(svc(), why("fresh"), targets);
    const fresh = await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get();
    // A fetch that started before the one above, carrying a state Stripe has since left.
    const stale = emptyFetched();
    stale.subscriptions.set(sub.id, { sub: { ...(await stripe().subscriptions.retrieve(sub.id)), status: "past_due" }, coupon: null, syncedAt: fresh!.syncedAt - 1000 });
    await writeObjects(svc(), why("stale"), stale);
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.status).toBe("active");
  });

  it("lets only the processor holding the lease finish or fail an event", async () => {
    const { sub } = await subscriber();
    const [created] = (await eventsFor([sub.id])).filter((e) => e.type === "customer.subscription.created");
    await storeEvent(db(), webhookEvent(created!), Date.now());
    const t0 = Date.now();
    const slow = await claimEvent(db(), created!.id, t0);
    expect(slow).toBeDefined();
    // The slow processor's lease runs out; the sweep's processor takes over and finishes.
    expect(await processEvent(svc(t0 + LEASE_MS + 1), created!.id)).toBe("processed");
    await markFailed(db(), slow!, new Error("late failure"), t0 + LEASE_MS + 2);
    expect(await db().select({ status: stripeEvents.status, lastError: stripeEvents.lastError }).from(stripeEvents).where(eq(stripeEvents.id, created!.id)).get()).toEqual({
      status: "processed",
      lastError: null,
    });
  });

  it("removes a deleted draft invoice from the mirror instead of retrying forever", async () => {
    const { customer } = await subscriber();
    await stripe().invoiceItems.create({ customer: customer.id, amount: 500, currency: "usd" });
    const draft = await stripe().invoices.create({ customer: customer.id, auto_advance: false });
    const [createdEvent] = (await eventsFor([draft.id])).filter((e) => e.type === "invoice.created");
    await deliver(createdEvent!);
    expect(await settled(createdEvent!.id)).toBe("processed");
    expect(await db().select().from(invoices).where(eq(invoices.id, draft.id)).get()).toBeDefined();
    await stripe().invoices.del(draft.id);
    const [deletedEvent] = (await eventsFor([draft.id])).filter((e) => e.type === "invoice.deleted");
    await deliver(deletedEvent!);
    expect(await settled(deletedEvent!.id)).toBe("processed");
    expect(await db().select().from(invoices).where(eq(invoices.id, draft.id)).get()).toBeUndefined();
  });

  it("gives a user access when their customer's user id arrives after the subscription", async () => {
    const s = stripe();
    const price = await ensurePrice("local_monthly");
    const customer = await s.customers.create({ payment_method: "pm_card_visa", invoice_settings: { default_payment_method: "pm_card_visa" } });
    const sub = await s.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const first = emptyTargets();
    first.subscriptions.add(sub.id);
    await syncObjects(svc(), why("no user yet"), first);
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.userId).toBeNull();
    const userId = `user_late_${Date.now()}`;
    await s.customers.update(customer.id, { metadata: { user_id: userId } });
    const second = emptyTargets();
    second.customers.add(customer.id);
    await syncObjects(svc(), why("customer.updated"), second);
    expect((await db().select().from(subscriptions).where(eq(subscriptions.id, sub.id)).get())?.userId).toBe(userId);
    expect((await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())?.status).toBe("active");
  });
});

describe("API key races", () => {
  it("records one revocation when two revokes race", async () => {
    const admin = (await makeKey("admin")).key;
    const victim = await makeKey("service", { name: "raced" });
    const results = await Promise.all([1, 2, 3].map(() => call("POST", `/v1/keys/${victim.id}/revoke`, { key: admin })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const log = await (await call("GET", `/v1/audit?subject_id=${victim.id}&action=api_key.revoked`, { key: admin })).json<{ data: unknown[] }>();
    expect(log.data).toHaveLength(1);
  });
});
