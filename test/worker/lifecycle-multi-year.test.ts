/**
 * Issue 25's prepaid multi-year plans for individuals (`two_year`, `three_year`): Checkout, plan
 * changes to, from and within them, the retention offer, MRR and the input rule, against the
 * Stripe emulator over HTTP with each subscriber on a test clock of their own and every event
 * delivered as a signed webhook. Amounts are checked against Stripe's own invoice preview and the
 * arithmetic Stripe uses (time-based proration, tax 7.25 %).
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { BILLING_CYCLES, catalog, type Catalog } from "../../worker/src/catalog";
import { subscriptions } from "../../worker/src/db/schema";
import type { CancelResultWire as CancelResult, ChangePreviewWire as ChangePreview, SubscriptionWire as SubscriptionView } from "../../worker/src/presenters/subscription";
import { monthlyAmount } from "../../worker/src/stripe-sync/mirror";
import { changeSubscription } from "../../worker/src/subscriptions/change";
import { previewChange } from "../../worker/src/subscriptions/change-preview";
import type { OfferView } from "../../worker/src/subscriptions/cancel";
import { call, count, makeKey, rfc3339, svc, TEST_ACTOR } from "./helpers";
import { makeKeys, ok, paying, period, post, prorate, tax, view } from "./lifecycle-helpers";
import { db, stripe } from "./stripe-helpers";

beforeAll(makeKeys);

/** The same calendar date `years` later (UTC), in seconds: where Stripe ends a period of `interval: year`. */
const yearsAfter = (seconds: number, years: number) => {
  const d = new Date(seconds * 1000);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime() / 1000;
};

/** What Stripe charges for invoice lines: each line taxed on its own (7.25 %, rounded half away from zero), then summed. */
const taxedTotal = (lines: number[]) => lines.reduce((sum, l) => sum + l + Math.sign(l) * tax(Math.abs(l)), 0);

const mirrored = (subId: string) => db().select().from(subscriptions).where(eq(subscriptions.id, subId)).get();
const latestInvoice = async (subId: string) => (await stripe().invoices.list({ subscription: subId, limit: 1 })).data[0];

describe("checkout of a prepaid multi-year plan", () => {
  for (const [cycle, years, amount] of [
    ["two_year", 2, 88_200],
    ["three_year", 3, 122_500],
  ] as const) {
    it(`bills mobile ${cycle} once after the trial for ${years} years, and counts 1/${12 * years} of it as MRR`, async () => {
      const s = await paying("mobile", { cycle });
      const sub = await stripe().subscriptions.retrieve(s.sub);
      const price = sub.items.data[0]!.price;
      expect([price.lookup_key, price.recurring?.interval, price.recurring?.interval_count]).toEqual([`mobile_${cycle}`, "year", years]);
      const charged = (await stripe().invoices.list({ subscription: s.sub })).data.filter((i) => i.amount_due > 0);
      expect(charged).toHaveLength(1);
      expect(charged[0]).toMatchObject({ status: "paid", subtotal: amount, amount_paid: amount + tax(amount) });
      const { start, end } = await period(s.sub);
      expect(end).toBe(yearsAfter(start, years));
      expect(await view(s.userId)).toMatchObject({ tier: "mobile", billing_cycle: cycle, status: "active", current_period_end: rfc3339(end) });
      // MRR: the price over its months, to the cent, rounded half up (88,200 / 24 = 3,675; 122,500 / 36 = 3,402.78).
      expect(await mirrored(s.sub)).toMatchObject({ interval: "year", intervalCount: years, unitAmount: amount, mrr: Math.round(amount / (12 * years)) });
      expect((await mirrored(s.sub))!.mrr).toBe(cycle === "two_year" ? 3_675 : 3_403);
    });
  }
});

describe("MRR of a multi-year price", () => {
  it("divides the price by 24 or 36 months, rounding half up to the cent, after the discount", () => {
    expect(monthlyAmount(88_200, 1, "year", 2, null)).toBe(3_675);
    expect(monthlyAmount(52_200, 1, "year", 2, null)).toBe(2_175);
    expect(monthlyAmount(72_500, 1, "year", 3, null)).toBe(2_014); // 2,013.89
    // Exactly half a cent a month goes up: 2,412 / 24 = 100.5 and 3,618 / 36 = 100.5.
    expect(monthlyAmount(2_412, 1, "year", 2, null)).toBe(101);
    expect(monthlyAmount(3_618, 1, "year", 3, null)).toBe(101);
    // 25 % off 52,200 is 39,150 per two years: 1,631.25 a month.
    expect(monthlyAmount(52_200, 1, "year", 2, { id: "c", percentOff: 25, amountOff: null, currency: null })).toBe(1_631);
  });
});

describe("plan changes with multi-year cycles", () => {
  it("switches annual → two_year at the period end by default; the renewal bills two years once", async () => {
    const s = await paying("local", { cycle: "annual" });
    const { end } = await period(s.sub);
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "local", billing_cycle: "two_year" }));
    expect(preview).toMatchObject({ effective: "period_end", amount_due_now: 0, next_invoice_amount: 52_200 + tax(52_200) });
    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local", billing_cycle: "two_year" }));
    expect(changed).toMatchObject({ billing_cycle: "annual", pending_change: { tier: "local", billing_cycle: "two_year", effective_at: rfc3339(end) } });
    // The schedule's next phase lasts the new cycle's whole period.
    const schedule = await stripe().subscriptionSchedules.retrieve((await stripe().subscriptions.retrieve(s.sub)).schedule as string);
    expect(schedule.phases[1]!.end_date).toBe(yearsAfter(schedule.phases[1]!.start_date, 2));

    await s.clock.advanceTo((end + 3_600 * 2) * 1000);
    await s.sync();
    const after = await view(s.userId);
    expect(after).toMatchObject({ tier: "local", billing_cycle: "two_year", pending_change: null });
    expect(Date.parse(after.current_period_end!) / 1000).toBe(yearsAfter(Date.parse(after.current_period_start!) / 1000, 2));
    expect(await latestInvoice(s.sub)).toMatchObject({ subtotal: 52_200, total: 52_200 + tax(52_200), status: "paid" });
    expect((await mirrored(s.sub))!.mrr).toBe(2_175);
  });

  it("switches monthly → three_year now under the `now` cycle policy, crediting the unused month as Stripe's preview says", async () => {
    const nowPolicy: Catalog = { ...catalog, policy: { ...catalog.policy, change: { ...catalog.policy.change, cycle_change: "now" } } };
    const s = await paying("mobile");
    await s.clock.advanceDays(10);
    const deps = svc();
    const preview = await previewChange(deps, s.userId, { tier: "mobile", billingCycle: "three_year" }, nowPolicy);
    expect(preview.effective).toBe("now");
    const { start, end } = await period(s.sub);
    const credit = -prorate(4_900, end - preview.proration_date, end - start);
    expect(preview.lines.map((l) => l.amount).sort((a, b) => a - b)).toEqual([credit, 122_500]);
    expect(preview.amount_due_now).toBe(taxedTotal([credit, 122_500]));
    const changed = await changeSubscription(deps, TEST_ACTOR, s.userId, { tier: "mobile", billingCycle: "three_year", expectedAmountDueNow: preview.amount_due_now }, nowPolicy);
    expect(changed).toMatchObject({ billing_cycle: "three_year", pending_change: null });
    expect(await latestInvoice(s.sub)).toMatchObject({ status: "paid", amount_paid: preview.amount_due_now });
    // The cycle restarted at the change: three years from it.
    const after = await period(s.sub);
    expect(after.end).toBe(yearsAfter(after.start, 3));
  });

  it("upgrades local → mobile within two_year now, charging the prorated difference Stripe's preview gives, and keeps the period", async () => {
    const s = await paying("local", { cycle: "two_year" });
    await s.clock.advanceDays(100);
    const before = await period(s.sub);
    // No billing_cycle: a tier change keeps how the user pays.
    const preview = await ok<ChangePreview>(await post(`/v1/subscriptions/${s.userId}/change/preview`, { tier: "mobile" }));
    const remaining = before.end - Date.parse(preview.proration_date) / 1000;
    const lines = [-prorate(52_200, remaining, before.end - before.start), prorate(88_200, remaining, before.end - before.start)];
    expect(preview.effective).toBe("now");
    expect(preview.lines.map((l) => l.amount).sort((a, b) => a - b)).toEqual(lines);
    expect(preview.amount_due_now).toBe(taxedTotal(lines));
    const changed = await ok<SubscriptionView>(
      await post(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile", expected_amount_due_now: preview.amount_due_now, proration_date: preview.proration_date }),
    );
    expect(changed).toMatchObject({ tier: "mobile", billing_cycle: "two_year", pending_change: null });
    expect(await latestInvoice(s.sub)).toMatchObject({ status: "paid", amount_paid: preview.amount_due_now });
    expect(await period(s.sub)).toEqual(before);
    expect((await mirrored(s.sub))!.mrr).toBe(3_675);
  });

  it("downgrades mobile → local at the end of a three-year period, keeping the cycle", async () => {
    const s = await paying("mobile", { cycle: "three_year" });
    const { end } = await period(s.sub);
    const changed = await ok<SubscriptionView>(await post(`/v1/subscriptions/${s.userId}/change`, { tier: "local" }));
    expect(changed).toMatchObject({ tier: "mobile", billing_cycle: "three_year", pending_change: { tier: "local", billing_cycle: "three_year", effective_at: rfc3339(end) } });
    expect(changed.next_invoice?.amount_due).toBe(72_500 + tax(72_500));
  });

  it("offers a two-year subscriber who cancels 25 % off the next renewal, not months that would run out first", async () => {
    const s = await paying("local", { cycle: "two_year" });
    const res = await ok<CancelResult>(await post(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }));
    const offer = (res as { offer: OfferView }).offer;
    expect(offer).toMatchObject({ kind: "discount", percent_off: 25, duration: "once", amount: 39_150 });
    expect(offer.description).toContain("$391.50 instead of $522.00 for the 2 years");
  });
});

describe("the billing_cycle input rule", () => {
  it("lists the four cycles in /v1/catalog for each tier, with the catalog's prices", async () => {
    const body = await (await call("GET", "/v1/catalog")).json<{ tiers: { key: string; prices: { billing_cycle: string; unit: { amount: number } }[] }[] }>();
    const local = body.tiers.find((t) => t.key === "local")!;
    expect(local.prices.map((p) => [p.billing_cycle, p.unit.amount])).toEqual([
      ["monthly", 2_900],
      ["annual", 29_000],
      ["two_year", 52_200],
      ["three_year", 72_500],
    ]);
  });

  it("refuses a cycle that is not one of them at checkout and in a change, naming body.billing_cycle, and creates nothing", async () => {
    const { key } = await makeKey("service");
    const userId = `user_my_${Date.now().toString(36)}`;
    const customers = await count("customers");
    const audit = await count("audit_log");
    for (const cycle of ["biennial", "two_years", "2_year", "five_year", "TWO_YEAR", 2]) {
      for (const [path, body] of [
        ["/v1/checkout", { user_id: userId, email: `${userId}@example.test`, tier: "mobile", billing_cycle: cycle }],
        [`/v1/subscriptions/${userId}/change/preview`, { tier: "mobile", billing_cycle: cycle }],
        [`/v1/subscriptions/${userId}/change`, { tier: "mobile", billing_cycle: cycle }],
      ] as const) {
        const res = await call("POST", path, { key, body });
        expect(res.status, `${path} ${cycle}`).toBe(400);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        const problem = await res.json<{ errors: { field: string; message: string }[] }>();
        expect(problem.errors.map((e) => e.field)).toEqual(["body.billing_cycle"]);
        for (const c of BILLING_CYCLES) expect(problem.errors[0]!.message).toContain(c);
      }
    }
    expect((await stripe().customers.search({ query: `metadata['user_id']:'${userId}'` })).data).toEqual([]);
    expect(await count("customers")).toBe(customers);
    expect(await count("audit_log")).toBe(audit);
  });
});
