/**
 * The lifecycle emails stored with the change they announce: the trial-ending reminder (from
 * Stripe's `customer.subscription.trial_will_end`, delivered as a signed webhook from the
 * emulator on a test clock) and the retention-offer confirmation (from the accept endpoint).
 * Amounts come from Stripe's own invoice preview; every email is stored once however often the
 * event or the request arrives.
 */
import { env } from "cloudflare:test";
import { eq, like } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { emptyTargets, syncObjects } from "../../worker/src/stripe-sync/sync";
import { trialEndingKey } from "../../worker/src/stripe-sync/trial-ending";
import { emailOutbox, stripeEvents } from "../../worker/src/db/schema";
import { formatDate } from "../../worker/src/email/templates";
import { call, makeKey, svc } from "./helpers";
import type { CancelResult, OfferView } from "../../worker/src/subscriptions/cancel";
import { DAY, expectProblem, makeKeys, ok, paying, period, post, tax, trialing } from "./lifecycle-helpers";
import { db, deliver, eventsFor, settled, stripe } from "./stripe-helpers";

beforeAll(makeKeys);

const trialEmails = (subId: string) =>
  db()
    .select()
    .from(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `trial_ending:${subId}:%`))
    .all();

/** A trialing subscriber moved to just past the moment Stripe sends trial_will_end (3 days before the end), its events delivered. */
async function reminded(opts: { beforeReminder?: (s: Awaited<ReturnType<typeof trialing>>) => Promise<void> } = {}) {
  const s = await trialing("local");
  await opts.beforeReminder?.(s);
  const sub = await stripe().subscriptions.retrieve(s.sub);
  expect(sub.status).toBe("trialing");
  const trialEnd = sub.trial_end!;
  await s.clock.advanceDays(s.trialDays - 3 + 0.01);
  await s.sync();
  const willEnd = (await eventsFor([s.sub])).filter((e) => e.type === "customer.subscription.trial_will_end");
  expect(willEnd).toHaveLength(1);
  expect(willEnd[0]!.created).toBe(trialEnd - 3 * DAY);
  expect((await db().select({ status: stripeEvents.status }).from(stripeEvents).where(eq(stripeEvents.id, willEnd[0]!.id)).get())?.status).toBe("processed");
  return { ...s, trialEnd, event: willEnd[0]! };
}

describe("trial-ending email", () => {
  it("stores one reminder with Stripe's previewed first charge (tax included) when trial_will_end arrives, and none more on redelivery, replay or a racing sync", async () => {
    const s = await reminded();
    const preview = await stripe().invoices.createPreview({ subscription: s.sub });
    expect(preview.amount_due).toBe(2900 + tax(2900));
    const rows = await trialEmails(s.sub);
    expect(rows).toHaveLength(1);
    const email = rows[0]!;
    expect(email).toMatchObject({ idempotencyKey: trialEndingKey(s.sub, s.trialEnd), to: `${s.userId}@example.test`, userId: s.userId, template: "trial_ending", status: "pending" });
    expect(email.subject).toBe(`Your Federal Job Advisor Local trial ends on ${formatDate(s.trialEnd * 1000)}`);
    expect(email.text).toContain(`the card on file will be charged $31.10`);
    expect(email.html).toContain("$31.10");
    expect(email.text).not.toMatch(/add a card/i);
    expect(email.text).toContain("https://app.test/billing");

    // Stripe delivering the same event again: stored once, processed once.
    expect((await deliver(s.event)).status).toBe(200);
    await settled(s.event.id);
    // An admin replay processes it again from Stripe's current state: the key holds.
    const { key: admin } = await makeKey("admin");
    expect(await (await call("POST", `/v1/events/${s.event.id}/replay`, { key: admin })).json()).toEqual({ requeued: 1, processed: 1, failed: 0 });
    // Two isolates syncing the reminder at once, on separate D1 handles.
    const targets = () => ({ ...emptyTargets(), subscriptions: new Set([s.sub]) });
    const why = { actor: { type: "stripe" as const, id: s.event.id }, cause: s.event.id, at: s.event.created * 1000 };
    await Promise.all([syncObjects(svc(), why, targets(), { trialEnding: [s.sub] }), syncObjects(svc(undefined, env.DB_RACE), why, targets(), { trialEnding: [s.sub] })]);
    expect(await trialEmails(s.sub)).toEqual([email]);
  });

  it("tells a trialing subscriber with no payment method on file to add a card, with the same previewed amount", async () => {
    const s = await reminded({
      async beforeReminder(s) {
        // The user removed their card during the trial (as the billing portal lets them).
        for (const pm of (await stripe().paymentMethods.list({ customer: s.customer })).data) await stripe().paymentMethods.detach(pm.id);
        await stripe().subscriptions.update(s.sub, { default_payment_method: "" });
      },
    });
    const rows = await trialEmails(s.sub);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.subject).toContain("trial ends on");
    expect(rows[0]!.text).toContain("There is no card on file yet: add a card before then");
    expect(rows[0]!.text).toContain("$31.10");
    expect(rows[0]!.text).not.toContain("will be charged");
  });

  it("skips only the email when the customer's address is one the outbox refuses: the event is processed and the mirror synced", async () => {
    const s = await reminded({
      async beforeReminder(s) {
        await stripe().customers.update(s.customer, { email: "ops@localhost" });
      },
    });
    // reminded() saw the event processed: its batch (mirror and processed mark) committed.
    expect(await trialEmails(s.sub)).toEqual([]);
    const mirrored = await env.DB.prepare("select email from customers where id = ?").bind(s.customer).first<{ email: string }>();
    expect(mirrored?.email).toBe("ops@localhost");
  });

  it("sends no reminder for a trial set to cancel at its end: there is no charge to announce", async () => {
    const s = await reminded({
      async beforeReminder(s) {
        await stripe().subscriptions.update(s.sub, { cancel_at_period_end: true });
      },
    });
    expect(await trialEmails(s.sub)).toEqual([]);
  });
});

const offerEmails = (offerId: string) =>
  db()
    .select()
    .from(emailOutbox)
    .where(like(emailOutbox.idempotencyKey, `${offerId}:%`))
    .all();

async function offered(tier: "local" | "mobile") {
  const s = await paying(tier);
  const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }));
  expect(res.canceled).toBe(false);
  return { ...s, offer: (res as { offer: OfferView }).offer };
}

describe("retention-offer confirmation email", () => {
  it("confirms an accepted downgrade once, in the offer's own words, effective at the next renewal; accepting again adds none", async () => {
    const s = await offered("mobile");
    expect(await offerEmails(s.offer.id)).toEqual([]);
    const { end } = await period(s.sub);
    await ok(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: s.offer.id }));
    const rows = await offerEmails(s.offer.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ to: `${s.userId}@example.test`, userId: s.userId, template: "retention_offer_confirmed", status: "pending" });
    expect(rows[0]!.subject).toBe("Your Federal Job Advisor Mobile offer is confirmed");
    expect(s.offer.description).toContain("switch to Local for $29.00/month from your next renewal");
    expect(rows[0]!.text).toContain(`You accepted this offer: ${s.offer.description}\n`);
    expect(rows[0]!.text).toContain(`It takes effect on ${formatDate(end * 1000)}.`);
    expect(rows[0]!.html).toContain("$29.00/month");

    expect(await ok(await post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: s.offer.id }))).toMatchObject({ pending_change: { tier: "local" } });
    expect(await offerEmails(s.offer.id)).toEqual(rows);
  });

  it("confirms a discount once when two accepts race, effective on the next invoice", async () => {
    const s = await offered("local");
    const { end } = await period(s.sub);
    const [a, b] = await Promise.all([post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: s.offer.id }), post(`/v1/subscriptions/${s.userId}/offer/accept`, { offer_id: s.offer.id })]);
    expect([a.status, b.status], await a.clone().text()).toEqual([200, 200]);
    const rows = await offerEmails(s.offer.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.text).toContain("25 % off for the next 2 months: $21.75 instead of $29.00 per month");
    expect(rows[0]!.text).toContain(`It takes effect on ${formatDate(end * 1000)}.`);
  });

  it("sends nothing when the accept is refused: a declined offer (conflict) or a downgrade already scheduled (no change)", async () => {
    const declined = await offered("local");
    await ok(await post(`/v1/subscriptions/${declined.userId}/cancel`, { reason: "too_expensive" }));
    await expectProblem(await post(`/v1/subscriptions/${declined.userId}/offer/accept`, { offer_id: declined.offer.id }), 409, "conflict", "body.offer_id");
    expect(await offerEmails(declined.offer.id)).toEqual([]);

    const scheduled = await offered("mobile");
    await ok(await post(`/v1/subscriptions/${scheduled.userId}/change`, { tier: "local", expected_amount_due_now: 0 }));
    await expectProblem(await post(`/v1/subscriptions/${scheduled.userId}/offer/accept`, { offer_id: scheduled.offer.id }), 422, "no_change");
    expect(await offerEmails(scheduled.offer.id)).toEqual([]);
  });
});
