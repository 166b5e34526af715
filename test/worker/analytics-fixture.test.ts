/**
 * The revenue report on a small fixture whose every figure is computed by hand below.
 *
 * The fixture is written as mirror rows (subscriptions, subscription_history, invoices, dunning
 * cases and steps) directly, not through the emulator and webhooks: driving six customers through
 * five months of test clocks costs minutes, and what this test checks is the arithmetic over the
 * facts the sync records (the sync's own history rows are checked by the demo-data test). It uses
 * its own currency (CAD), so rows other test files write into the shared database never enter it.
 */
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { churnRisk, cohortReport, revenueReport, targetProgress } from "../../worker/src/analytics";
import { CURRENT_STANDING } from "../../worker/src/analytics/report";
import { countedMrr, suspendedNow } from "../../worker/src/analytics/definitions";
import { getDb } from "../../worker/src/db/client";
import { svc } from "./helpers";
import { customers, dunningCases, dunningSteps, invoices, paymentAttempts, retentionOffers, subscriptionHistory, subscriptions } from "../../worker/src/db/schema";

const CUR = "cad";
const at = (month: number, day: number, hour = 12) => Date.UTC(2025, month - 1, day, hour);
const NOW = at(6, 15);
const db = () => getDb(env.DB);
// All of Services (churn risk reads the test clocks of other files' customers in this database).
const deps = () => svc(NOW);
const P = "fx15_";

type Sub = typeof subscriptions.$inferInsert;
type Hist = Omit<typeof subscriptionHistory.$inferInsert, "subscriptionId" | "customerId" | "currency" | "cause" | "changes" | "unitAmount" | "quantity" | "priceId">;

// MRR per subscription by the definition: price after discount, ÷ 12 for annual, rounded half up.
const MOBILE_ANNUAL = Math.round(49_000 / 12); // 4083.33… → 4083
const LOCAL = 2_900;
const LOCAL_25_OFF = 2_900 - Math.round((2_900 * 25) / 100); // 2900 − 725 = 2175
const MOBILE = 4_900;

async function subscription(id: string, customer: string, row: Partial<Sub>, history: Hist[]) {
  const last = history.at(-1)!;
  await db()
    .insert(subscriptions)
    .values({
      id: P + id,
      customerId: P + customer,
      userId: P + customer,
      status: last.status as Sub["status"],
      tier: last.tier ?? null,
      priceId: `price_${last.tier}`,
      interval: "month",
      unitAmount: 0,
      currency: CUR,
      mrr: last.mrr,
      createdAt: history[0]!.at,
      syncedAt: NOW,
      ...row,
    });
  for (const h of history) {
    await db()
      .insert(subscriptionHistory)
      .values({ ...h, subscriptionId: P + id, customerId: P + customer, currency: CUR, cause: "fixture", changes: "status", unitAmount: 0, quantity: 1, priceId: `price_${h.tier}` });
  }
}

let n = 0;
async function invoice(customer: string, sub: string | null, paidAt: number | null, total: number, tax: number, opts: { status?: "paid" | "open" | "void"; reason?: string } = {}) {
  await db()
    .insert(invoices)
    .values({
      id: `${P}in_${++n}`,
      customerId: P + customer,
      subscriptionId: sub ? P + sub : null,
      status: opts.status ?? "paid",
      billingReason: opts.reason ?? "subscription_cycle",
      currency: CUR,
      subtotal: total - tax,
      tax,
      discountTotal: 0,
      total,
      amountDue: total,
      amountPaid: opts.status === "paid" || !opts.status ? total : 0,
      amountRemaining: 0,
      attemptCount: 1,
      createdAt: paidAt ?? at(4, 1),
      paidAt,
      syncedAt: NOW,
    });
}

async function seed() {
  // A: annual Mobile ($490 / year) from Jan 10.
  await subscription("A", "A", { interval: "year" }, [{ at: at(1, 10), status: "active", tier: "mobile", mrr: MOBILE_ANNUAL }]);
  // B: Local with a 25 % coupon for 2 months from Jan 5; the discount ends on Mar 5.
  await subscription("B", "B", { discount: null }, [
    { at: at(1, 5), status: "active", tier: "local", mrr: LOCAL_25_OFF, discount: "25off2m" },
    { at: at(3, 5), status: "active", tier: "local", mrr: LOCAL },
  ]);
  // C: a 7-day Local trial from Jan 1, paid from Jan 8; upgrade to Mobile mid-month (Feb 14); back to Local at the period end (Apr 15).
  // C has asked to cancel at the period end (Jul 15): a churn risk, no movement yet.
  await subscription("C", "C", { trialStart: at(1, 1), trialEnd: at(1, 8), cancelAtPeriodEnd: true, cancelAt: at(7, 15) }, [
    { at: at(1, 1), status: "trialing", tier: "local", mrr: LOCAL },
    { at: at(1, 8), status: "active", tier: "local", mrr: LOCAL },
    { at: at(2, 14), status: "active", tier: "mobile", mrr: MOBILE },
    { at: at(4, 15), status: "active", tier: "local", mrr: LOCAL },
  ]);
  // D: Mobile from Feb 1; past due Mar 1, recovers Mar 10; past due Apr 1, suspended Apr 22 (dunning day 21), pays May 3.
  await subscription("D", "D", {}, [
    { at: at(2, 1), status: "active", tier: "mobile", mrr: MOBILE },
    { at: at(3, 1), status: "past_due", tier: "mobile", mrr: MOBILE },
    { at: at(3, 10), status: "active", tier: "mobile", mrr: MOBILE },
    { at: at(4, 1), status: "past_due", tier: "mobile", mrr: MOBILE },
    { at: at(5, 3), status: "active", tier: "mobile", mrr: MOBILE },
  ]);
  await db()
    .insert(dunningCases)
    .values([
      {
        id: `${P}case_mar`,
        invoiceId: `${P}in_d_mar`,
        subscriptionId: `${P}D`,
        customerId: `${P}D`,
        anchorAt: at(3, 1),
        status: "recovered",
        amount: MOBILE,
        currency: CUR,
        openedAt: at(3, 1),
        closedAt: at(3, 10),
      },
      {
        id: `${P}case_apr`,
        invoiceId: `${P}in_d_apr`,
        subscriptionId: `${P}D`,
        customerId: `${P}D`,
        anchorAt: at(4, 1),
        status: "recovered",
        stage: "suspended",
        amount: MOBILE,
        currency: CUR,
        openedAt: at(4, 1),
        closedAt: at(5, 3),
      },
    ]);
  await db()
    .insert(dunningSteps)
    .values({ caseId: `${P}case_apr`, step: "suspended", outcome: "done", at: at(4, 22) });
  await db()
    .insert(paymentAttempts)
    .values({
      id: `${P}att_apr`,
      invoiceId: `${P}in_d_apr`,
      customerId: `${P}D`,
      at: at(4, 1),
      outcome: "failed",
      amount: MOBILE,
      currency: CUR,
      attempt: 1,
      declineCode: "insufficient_funds",
      failureCode: "card_declined",
    });
  // B took a retention offer when asking to cancel (the 25 % coupon came from it).
  await db()
    .insert(retentionOffers)
    .values({
      id: `${P}offer_b`,
      userId: `${P}B`,
      subscriptionId: `${P}B`,
      kind: "discount",
      terms: "{}",
      description: "25 % off for 2 months",
      status: "accepted",
      createdAt: at(1, 5),
      decidedAt: at(1, 5),
    });
  // E: a 14-day Mobile trial from Feb 10 that lapses (canceled Feb 17 without paying).
  await subscription("E", "E", { trialStart: at(2, 10), trialEnd: at(2, 24), canceledAt: at(2, 17), endedAt: at(2, 17) }, [
    { at: at(2, 10), status: "trialing", tier: "mobile", mrr: MOBILE },
    { at: at(2, 17), status: "canceled", tier: "mobile", mrr: MOBILE },
  ]);
  // F: Mobile from Jan 20, canceled at Mar 20; comes back on Local May 10 (a new subscription).
  await subscription("F1", "F", { canceledAt: at(3, 20), endedAt: at(3, 20) }, [
    { at: at(1, 20), status: "active", tier: "mobile", mrr: MOBILE },
    { at: at(3, 20), status: "canceled", tier: "mobile", mrr: MOBILE },
  ]);
  await subscription("F2", "F", {}, [{ at: at(5, 10), status: "active", tier: "local", mrr: LOCAL }]);
  // G: a Local trial from Jun 10, still trialing now (Jun 15).
  await subscription("G", "G", { trialStart: at(6, 10), trialEnd: at(6, 17) }, [{ at: at(6, 10), status: "trialing", tier: "local", mrr: LOCAL }]);

  // Invoices (paid date, total, tax). Revenue is total − tax of paid invoices by paid date.
  await invoice("A", "A", at(1, 10), 49_000, 0); // annual, Jan
  await invoice("B", "B", at(1, 5), 2_175 + 158, 158); // 25 % off, 7.25 % tax, Jan
  await invoice("C", "C", at(1, 8), 2_900, 0); // Jan
  await invoice("F", "F1", at(1, 20), 4_900, 0); // Jan
  await invoice("D", "D", at(2, 1), 4_900, 0); // Feb
  await invoice("C", "C", at(2, 14), 1_307, 0, { reason: "subscription_update" }); // upgrade proration, Feb: revenue, not MRR
  await invoice("B", "B", at(2, 5), 2_175 + 158, 158); // Feb
  await invoice("X", null, at(2, 20), 1_500, 0, { reason: "manual" }); // one-off, Feb
  await invoice("D", "D", at(3, 10), 4_900, 0); // Mar 1 renewal, paid Mar 10
  await invoice("B", "B", at(3, 5), 2_900 + 210, 210); // Mar, full price
  await invoice("D", "D", null, 4_900, 0, { status: "open" }); // unpaid: no revenue
  await invoice("C", "C", null, 4_900, 0, { status: "void" }); // void: no revenue
  await invoice("D", "D", at(5, 3), 4_900, 0); // Apr renewal, paid May 3

  // Cards: expiry is stored as the first instant after the card's month. Stripe charges the
  // subscription's own card when it has one, else the customer's.
  const expiresAfter = (year: number, month: number) => Date.UTC(year, month, 1);
  const card = async (sub: string, row: Partial<Sub>) =>
    db()
      .update(subscriptions)
      .set(row)
      .where(sql`id = ${P + sub}`);
  await db()
    .insert(customers)
    .values([
      { id: `${P}B`, defaultPaymentMethodId: "pm_fx_b", cardExpiresAt: expiresAfter(2025, 6), createdAt: at(1, 5), syncedAt: NOW },
      { id: `${P}D`, defaultPaymentMethodId: "pm_fx_d_old", cardExpiresAt: expiresAfter(2025, 5), createdAt: at(2, 1), syncedAt: NOW },
      { id: `${P}G`, defaultPaymentMethodId: "pm_fx_g", cardExpiresAt: expiresAfter(2025, 5), createdAt: at(6, 10), syncedAt: NOW },
    ]);
  // A renews yearly on Jan 10, 2026 with its own card, which ends in November: flagged.
  await card("A", { currentPeriodEnd: Date.UTC(2026, 0, 10, 12), defaultPaymentMethodId: "pm_fx_a", cardExpiresAt: expiresAfter(2025, 11) });
  // B renews Jul 5 on the customer's card, which ends in June: flagged.
  await card("B", { currentPeriodEnd: at(7, 5) });
  // C's card ends in June too, but C cancels at the period end (Jul 15): nothing to charge.
  await card("C", { currentPeriodEnd: at(7, 15), defaultPaymentMethodId: "pm_fx_c", cardExpiresAt: expiresAfter(2025, 6) });
  // D renews Jul 1 on its own card, good through July; the customer's old card (ended May) is not charged.
  await card("D", { currentPeriodEnd: at(7, 1), defaultPaymentMethodId: "pm_fx_d", cardExpiresAt: expiresAfter(2025, 7) });
  // G's trial ends Jun 17 and the customer's card ended in May: its first charge will fail.
  await card("G", { currentPeriodEnd: at(6, 17) });
}

describe("analytics on a hand-computed fixture", () => {
  it("the monthly report equals the hand computation to the cent: movements, customers, rates, trials and revenue", async () => {
    await seed();
    const r = await revenueReport(deps(), { period: "monthly", from: "2025-01", to: "2025-06", currency: CUR });
    const jan = 0 + MOBILE_ANNUAL + LOCAL_25_OFF + LOCAL + MOBILE; // A, B, C, F new: 4083 + 2175 + 2900 + 4900 = 14058
    const feb = jan + (MOBILE - LOCAL) + MOBILE; // C upgrades (+2000), D new (+4900): 20958
    const mar = feb + (LOCAL - LOCAL_25_OFF) - MOBILE; // B's discount ends (+725), F cancels (−4900): 16783
    const apr = mar - (MOBILE - LOCAL) - MOBILE; // C downgrades (−2000), D suspended (−4900): 9883
    const may = apr + MOBILE + LOCAL; // D pays and F comes back: reactivations (+4900, +2900): 17683
    expect([jan, feb, mar, apr, may]).toEqual([14_058, 20_958, 16_783, 9_883, 17_683]);
    const zero = { expansion_mrr: 0, contraction_mrr: 0, churned_mrr: 0, reactivation_mrr: 0, new_mrr: 0 };
    expect(r.rows).toEqual([
      expect.objectContaining({
        period: "2025-01",
        opening_mrr: 0,
        ...zero,
        new_mrr: jan,
        closing_mrr: jan,
        customers: 4,
        new_customers: 4,
        churned_customers: 0,
        arpu: Math.round(jan / 4),
        logo_churn_rate: null,
        gross_revenue_churn_rate: null,
        net_revenue_retention: null,
        quick_ratio: null,
        trial_starts: 1,
        trial_conversions: 1,
        trial_conversion_rate: 1,
        revenue: 49_000 + 2_175 + 2_900 + 4_900,
      }),
      expect.objectContaining({
        period: "2025-02",
        opening_mrr: jan,
        ...zero,
        new_mrr: MOBILE,
        expansion_mrr: 2_000,
        closing_mrr: feb,
        customers: 5,
        new_customers: 1,
        arpu: Math.round(feb / 5),
        logo_churn_rate: 0,
        gross_revenue_churn_rate: 0,
        net_revenue_retention: Math.round(((jan + 2_000) / jan) * 1e4) / 1e4,
        quick_ratio: null,
        trial_starts: 1,
        trial_conversions: 0,
        trial_conversion_rate: 0,
        revenue: 4_900 + 1_307 + 2_175 + 1_500,
      }),
      expect.objectContaining({
        period: "2025-03",
        opening_mrr: feb,
        ...zero,
        expansion_mrr: 725,
        churned_mrr: -4_900,
        closing_mrr: mar,
        customers: 4,
        churned_customers: 1,
        arpu: Math.round(mar / 4),
        logo_churn_rate: 1 / 5,
        gross_revenue_churn_rate: Math.round((4_900 / feb) * 1e4) / 1e4,
        net_revenue_retention: Math.round((mar / feb) * 1e4) / 1e4,
        quick_ratio: Math.round((725 / 4_900) * 1e4) / 1e4,
        trial_starts: 0,
        trial_conversions: 0,
        trial_conversion_rate: null,
        revenue: 4_900 + 2_900,
      }),
      expect.objectContaining({
        period: "2025-04",
        opening_mrr: mar,
        ...zero,
        contraction_mrr: -2_000,
        churned_mrr: -4_900,
        closing_mrr: apr,
        customers: 3,
        churned_customers: 1,
        arpu: Math.round(apr / 3),
        logo_churn_rate: 0.25,
        gross_revenue_churn_rate: Math.round((6_900 / mar) * 1e4) / 1e4,
        net_revenue_retention: Math.round((apr / mar) * 1e4) / 1e4,
        quick_ratio: 0,
        revenue: 0,
      }),
      expect.objectContaining({
        period: "2025-05",
        opening_mrr: apr,
        ...zero,
        reactivation_mrr: MOBILE + LOCAL,
        closing_mrr: may,
        customers: 5,
        new_customers: 0,
        reactivated_customers: 2,
        arpu: Math.round(may / 5),
        logo_churn_rate: 0,
        net_revenue_retention: 1,
        quick_ratio: null,
        revenue: 4_900,
      }),
      expect.objectContaining({ period: "2025-06", opening_mrr: may, ...zero, closing_mrr: may, customers: 5, trial_starts: 1, trial_conversions: 0, revenue: 0 }),
    ]);
    for (const row of r.rows) expect(row.opening_mrr + row.new_mrr + row.expansion_mrr + row.contraction_mrr + row.churned_mrr + row.reactivation_mrr).toBe(row.closing_mrr);
    // LTV in March: ARPU × 0.8 ÷ (4900 ÷ 20958).
    expect(r.rows[2]!.ltv).toBe(Math.round((Math.round(mar / 4) * 0.8) / (4_900 / feb)));

    // Now (Jun 15): A 4083 + D 4900 (Mobile), B, C, F 2900 each (Local); G trialing.
    expect(r.current).toMatchObject({
      mrr: may,
      arr: 12 * may,
      customers: 5,
      arpu: Math.round(may / 5),
      trialing: 1,
      past_due: 0,
      by_tier: { mobile: { customers: 2, mrr: MOBILE_ANNUAL + MOBILE }, local: { customers: 3, mrr: 3 * LOCAL } },
    });
    expect(r.currency).toBe(CUR);
    expect(r.definitions.mrr).toMatch(/annual ÷ 12/);
  });

  it("quarterly and annual rows sum the months' movements between the first opening and the last closing", async () => {
    const q = await revenueReport(deps(), { period: "quarterly", from: "2025-01", to: "2025-06", currency: CUR });
    expect(q.rows.map((r) => [r.period, r.opening_mrr, r.new_mrr, r.expansion_mrr, r.contraction_mrr, r.churned_mrr, r.reactivation_mrr, r.closing_mrr])).toEqual([
      ["2025-Q1", 0, 14_058 + MOBILE, 2_000 + 725, 0, -4_900, 0, 16_783],
      ["2025-Q2", 16_783, 0, 0, -2_000, -4_900, MOBILE + LOCAL, 17_683],
    ]);
    expect(q.rows[0]!.logo_churn_rate).toBeNull(); // nobody paid at the start of Q1
    expect(q.rows[1]!.logo_churn_rate).toBe(0.25); // D of A, B, C, D (F left in Q1)
    const y = await revenueReport(deps(), { period: "annual", from: "2025-01", to: "2025-06", currency: CUR });
    expect(y.rows).toHaveLength(1);
    expect(y.rows[0]).toMatchObject({ period: "2025", opening_mrr: 0, closing_mrr: 17_683, revenue: 58_975 + 9_882 + 7_800 + 4_900, trial_starts: 3, trial_conversions: 1 });
  });

  it("cohorts follow each first-paid month's customers and MRR", async () => {
    const c = await cohortReport(deps(), { from: "2025-01", to: "2025-05", currency: CUR });
    // January: A, B, C, F (14058). February: D (4900). F churns in March and returns in May; D is suspended in April.
    expect(c.cohorts[0]).toEqual({
      cohort: "2025-01",
      customers: 4,
      mrr: 14_058,
      customers_retained: [4, 4, 3, 3, 4],
      customer_retention: [1, 1, 0.75, 0.75, 1],
      mrr_retained: [14_058, 14_058 + 2_000, 14_058 + 2_000 + 725 - 4_900, 4_083 + 2_900 + 2_900, 4_083 + 2_900 + 2_900 + 2_900],
      revenue_retention: [14_058, 16_058, 11_883, 9_883, 12_783].map((m) => Math.round((m / 14_058) * 1e4) / 1e4), // 1, 1.1423, 0.8453, 0.703, 0.9093
    });
    expect(c.cohorts[1]).toEqual({
      cohort: "2025-02",
      customers: 1,
      mrr: 4_900,
      customers_retained: [1, 1, 0, 1],
      customer_retention: [1, 1, 0, 1],
      mrr_retained: [4_900, 4_900, 0, 4_900],
      revenue_retention: [1, 1, 0, 1],
    });
  });

  it("churn risk scores each paying customer by its reasons: pending cancellation, a card expiring before the renewal, failed payments, a retention offer taken", async () => {
    const r = await churnRisk(deps(), { limit: 500 });
    const mine = r.customers.filter((c) => c.subscription_id.startsWith(P));
    expect(mine.map((c) => [c.subscription_id, c.score, c.reasons.map((x) => x.code)])).toEqual([
      [`${P}C`, 45, ["pending_cancellation"]], // its card ends before Jul 15, but it will not renew
      [`${P}B`, 35, ["card_expiring", "retention_offer_taken"]], // the customer's card, as B has none of its own
      [`${P}A`, 20, ["card_expiring"]],
      [`${P}G`, 20, ["card_expiring"]], // trialing: no MRR yet, so after A
      [`${P}D`, 10, ["failed_payments"]], // one failed attempt on Apr 1, within 90 days of Jun 15; its own card outlives Jul 1
    ]);
    const detail = (id: string) => mine.find((c) => c.subscription_id === P + id)!.reasons.find((x) => x.code === "card_expiring")!.detail;
    expect(detail("A")).toBe("The card on file expires 2025-11 (end of month), before the renewal on 2026-01-10.");
    expect(detail("B")).toBe("The card on file expires 2025-06 (end of month), before the renewal on 2025-07-05.");
    expect(detail("G")).toBe("The card on file expires 2025-05 (end of month), before the trial ends and the first charge on 2025-06-17.");
  });

  it("does not flag an expiring card on a subscription whose collection is paused: nothing will be charged", async () => {
    const q = `${P}pause_`;
    for (const [id, pause] of [
      ["on", null],
      ["off", "void"],
    ] as const) {
      await db()
        .insert(subscriptions)
        .values({
          id: q + id,
          customerId: q + id,
          userId: q + id,
          status: "active",
          tier: "local",
          priceId: "p",
          interval: "month",
          unitAmount: LOCAL,
          currency: "chf",
          mrr: LOCAL,
          currentPeriodEnd: at(7, 1),
          defaultPaymentMethodId: `pm_${id}`,
          cardExpiresAt: Date.UTC(2025, 6, 1),
          pauseBehavior: pause,
          createdAt: at(1, 1),
          syncedAt: NOW,
        });
    }
    const flagged = (await churnRisk(deps(), { limit: 500 })).customers.filter((c) => c.subscription_id.startsWith(q) && c.reasons.some((x) => x.code === "card_expiring"));
    expect(flagged.map((c) => c.subscription_id)).toEqual([`${q}on`]);
  });

  it("targets: progress of each toward break-even and the forecast from the trailing three months", async () => {
    const t = await targetProgress(deps(), { currency: CUR });
    const by = Object.fromEntries(t.targets.map((x) => [x.key, x]));
    expect(by.paying_customers).toMatchObject({ current: 5, target: 50, progress: 0.1, reached: false, projected_month: null }); // −1, −1, +2 customers a month: no growth
    expect(by.mrr).toMatchObject({ current: 17_683, target: 200_000, progress: Math.round((17_683 / 200_000) * 1e4) / 1e4, reached: false });
    expect(by.first_year_revenue).toMatchObject({ current: 58_975 + 9_882 + 7_800 + 0 + 4_900, reached: false });
    expect(by.monthly_churn).toMatchObject({ current: 0, reached: true, projected_month: "2025-06" }); // May: 0 of 3 churned
    expect(by.trial_conversion).toMatchObject({ current: 0.5, reached: true, projected_month: "2025-06" }); // C converted, E lapsed; G still in trial
    // March, April, May: net rates (725 − 4900) ÷ 20958, (−2000 − 4900) ÷ 16783, 0; added 0, 0, 7800.
    const rates = [(725 - 4_900) / 20_958, (-2_000 - 4_900) / 16_783, 0];
    const avgRate = rates.reduce((a, x) => a + x, 0) / 3;
    expect(t.forecast).toHaveLength(12);
    expect(t.forecast[0]).toEqual({
      period: "2025-07",
      mrr: Math.round(17_683 * (1 + avgRate) + 7_800 / 3),
      low: Math.round(17_683 * (1 + rates[1]!) + 0),
      high: Math.round(17_683 * (1 + 0) + 7_800),
    });
    for (const p of t.forecast) expect(p.low <= p.mrr && p.mrr <= p.high).toBe(true);
  });
});

describe("analytics when the history is observations, not a timeline", () => {
  it("a subscription first seen after it ended counts from its paid start to its ended_at, and the last row written is the state that stands", async () => {
    const NZD = "nzd";
    const q = `${P}obs_`;
    const put = async (id: string, row: Partial<Sub>, history: { at: number; status: string; mrr: number }[]) => {
      await db()
        .insert(subscriptions)
        .values({
          id: q + id,
          customerId: q + id,
          status: "active",
          priceId: "p",
          interval: "month",
          unitAmount: 0,
          currency: NZD,
          mrr: history.at(-1)!.mrr,
          createdAt: at(1, 1),
          syncedAt: NOW,
          ...row,
        });
      // Inserted in this order: ids follow the order the sync wrote them, whatever their dates.
      for (const h of history)
        await db()
          .insert(subscriptionHistory)
          .values({ ...h, subscriptionId: q + id, customerId: q + id, currency: NZD, cause: "fixture", changes: "status", unitAmount: 0, quantity: 1, priceId: "p" });
    };
    // X: paid from Feb 1, ended Apr 10; the sync first fetched it after the end (one row, dated then).
    await put("X", { status: "canceled", createdAt: at(2, 1), canceledAt: at(4, 10), endedAt: at(4, 10) }, [{ at: at(4, 10), status: "canceled", mrr: MOBILE }]);
    // Y: paid from Jan 10 on Mobile; a later sync wrote its downgrade to Local but dated it by an older event (Jan 12).
    await put("Y", { createdAt: at(1, 10) }, [
      { at: at(3, 1), status: "active", mrr: MOBILE },
      { at: at(1, 12), status: "active", mrr: LOCAL },
    ]);
    const r = await revenueReport(deps(), { period: "monthly", from: "2025-01", to: "2025-05", currency: NZD });
    expect(r.rows.map((x) => [x.period, x.new_mrr, x.contraction_mrr, x.churned_mrr, x.closing_mrr])).toEqual([
      ["2025-01", MOBILE, 0, 0, MOBILE], // Y from its paid start at the first state seen
      ["2025-02", MOBILE, 0, 0, 2 * MOBILE], // X from its paid start
      ["2025-03", 0, LOCAL - MOBILE, 0, MOBILE + LOCAL], // Y's later row takes effect no earlier than Mar 1, the row written before it
      ["2025-04", 0, 0, -MOBILE, LOCAL], // X ends on Apr 10
      ["2025-05", 0, 0, 0, LOCAL],
    ]);
    expect(r.current.mrr).toBe(LOCAL);
  });

  it("counts a subscription suspended by dunning now as no MRR and no paying customer, while Stripe still says past_due", async () => {
    const CAD = "aud"; // its own currency: the other fixtures' rows stay out
    const q = `${P}susp_`;
    for (const [id, status] of [
      ["K", "active"],
      ["L", "past_due"],
    ] as const) {
      await db()
        .insert(subscriptions)
        .values({ id: q + id, customerId: q + id, status, priceId: "p", interval: "month", unitAmount: 0, currency: CAD, mrr: MOBILE, createdAt: at(1, 1), syncedAt: NOW });
      await db()
        .insert(subscriptionHistory)
        .values({
          at: at(1, 1),
          status: "active",
          mrr: MOBILE,
          subscriptionId: q + id,
          customerId: q + id,
          currency: CAD,
          cause: "fixture",
          changes: "status",
          unitAmount: 0,
          quantity: 1,
          priceId: "p",
        });
    }
    // L's April invoice failed on Apr 1 and dunning suspended it on day 21; still unpaid now.
    await db()
      .insert(dunningCases)
      .values({
        id: `${q}case`,
        invoiceId: `${q}in`,
        subscriptionId: `${q}L`,
        customerId: `${q}L`,
        anchorAt: at(4, 1),
        status: "suspended",
        stage: "suspended",
        amount: MOBILE,
        currency: CAD,
        openedAt: at(4, 1),
        closedAt: at(4, 22),
      });
    await db()
      .insert(dunningSteps)
      .values({ caseId: `${q}case`, step: "suspended", outcome: "done", at: at(4, 22) });
    const r = await revenueReport(deps(), { period: "monthly", from: "2025-01", to: "2025-05", currency: CAD });
    expect(r.current).toMatchObject({ mrr: MOBILE, customers: 1 }); // K only
    expect(r.rows.at(-1)?.closing_mrr).toBe(MOBILE);
  });
});

describe("the tables the report reads, kept by triggers, agree with the definitions through every kind of write", () => {
  it("customer_current and invoice_revenue_months equal a recomputation from subscriptions, dunning cases and invoices after inserts, updates, suspensions and deletes", async () => {
    const CUR2 = "sek"; // its own currency
    const q = `${P}trig_`;
    const raw = (text: string) => env.DB.prepare(text);
    // The definitions, applied to the mirror directly (what the triggers must keep).
    const expectedCurrent = async () =>
      (
        await db().all<{ customer_id: string; tier: string; mrr: number }>(sql`
          select customer_id, coalesce(tier, 'other') as tier, sum(case when ${suspendedNow(sql`s.id`)} then 0 else ${countedMrr(sql`s.status`, sql`s.mrr`)} end) as mrr
          from subscriptions s where currency = ${CUR2} group by customer_id, coalesce(tier, 'other') order by customer_id, tier`)
      ).map((r) => ({ ...r, mrr: Number(r.mrr) }));
    const STANDING = CURRENT_STANDING;
    const storedCurrent = async () =>
      (
        await raw(`select customer_id, tier, mrr, standing from customer_current where currency = ? order by customer_id, tier`)
          .bind(CUR2)
          .all<{ customer_id: string; tier: string; mrr: number; standing: number }>()
      ).results.map((r) => ({ ...r, standing: STANDING[r.standing] }));
    const expectedRevenue = async () =>
      (
        await raw(
          `select strftime('%Y-%m', paid_at / 1000, 'unixepoch') as month, sum(total - tax) as revenue, count(*) as invoices from invoices where currency = ? and status = 'paid' and paid_at is not null group by month order by month`,
        )
          .bind(CUR2)
          .all()
      ).results;
    const storedRevenue = async () =>
      (await raw(`select printf('%04d-%02d', month / 12, month % 12 + 1) as month, revenue, invoices from invoice_revenue_months where currency = ? order by month`).bind(CUR2).all()).results;
    const agree = async (step: string) => {
      // Standing: the best status by the report's order, so compare the min by rank, not by name.
      const exp = await expectedCurrent();
      const byRank = new Map<string, string>();
      for (const s of (
        await raw(
          `select s.customer_id, coalesce(s.tier, 'other') as tier, case when exists (select 1 from dunning_cases d where d.subscription_id = s.id and d.status = 'suspended') then 'suspended' else s.status end as st from subscriptions s where currency = ?`,
        )
          .bind(CUR2)
          .all<{ customer_id: string; tier: string; st: string }>()
      ).results) {
        const k = `${s.customer_id}/${s.tier}`;
        const best = byRank.get(k);
        if (best === undefined || STANDING.indexOf(s.st) < STANDING.indexOf(best)) byRank.set(k, s.st);
      }
      expect(await storedCurrent(), step).toEqual(exp.map((r) => ({ customer_id: r.customer_id, tier: r.tier, mrr: r.mrr, standing: byRank.get(`${r.customer_id}/${r.tier}`) })));
      expect(await storedRevenue(), step).toEqual(await expectedRevenue());
    };
    const sub = (id: string, customer: string, status: string, tier: string, mrr: number) =>
      db()
        .insert(subscriptions)
        .values({
          id: q + id,
          customerId: q + customer,
          status: status as Sub["status"],
          tier,
          priceId: "p",
          interval: "month",
          unitAmount: 0,
          currency: CUR2,
          mrr,
          createdAt: at(1, 1),
          syncedAt: NOW,
        });
    const inv = (id: string, status: "paid" | "open" | "void", paidAt: number | null, total: number, tax: number) =>
      db()
        .insert(invoices)
        .values({
          id: q + id,
          customerId: q + "A",
          status,
          currency: CUR2,
          subtotal: total - tax,
          tax,
          discountTotal: 0,
          total,
          amountDue: total,
          amountPaid: status === "paid" ? total : 0,
          amountRemaining: 0,
          attemptCount: 1,
          createdAt: at(1, 1),
          paidAt,
          syncedAt: NOW,
        });

    await sub("A1", "A", "active", "local", LOCAL);
    await sub("A2", "A", "trialing", "mobile", MOBILE);
    await sub("B1", "B", "past_due", "mobile", MOBILE);
    await inv("i1", "paid", at(1, 3), 3_110, 210);
    await inv("i2", "paid", at(1, 20), 4_900, 0);
    await inv("i3", "open", null, 4_900, 0);
    await agree("inserted");
    expect((await storedCurrent()).length).toBe(3);

    await raw(`update subscriptions set status = 'active' where id = ?`)
      .bind(q + "A2")
      .run(); // trial converts
    await raw(`update subscriptions set tier = 'mobile', mrr = ? where id = ?`)
      .bind(MOBILE, q + "A1")
      .run(); // upgrade
    await agree("updated");
    await db()
      .insert(dunningCases)
      .values({ id: `${q}case`, invoiceId: `${q}i3`, subscriptionId: `${q}B1`, customerId: `${q}B`, anchorAt: at(2, 1), status: "open", amount: MOBILE, currency: CUR2, openedAt: at(2, 1) });
    await agree("dunning opened");
    await raw(`update dunning_cases set status = 'suspended', stage = 'suspended' where id = ?`).bind(`${q}case`).run();
    await agree("suspended");
    expect((await storedCurrent()).find((r) => r.customer_id === q + "B")).toMatchObject({ mrr: 0, standing: "suspended" });
    await raw(`update dunning_cases set status = 'recovered', closed_at = ? where id = ?`).bind(at(3, 1), `${q}case`).run();
    await raw(`update invoices set status = 'paid', paid_at = ? where id = ?`)
      .bind(at(3, 1), q + "i3")
      .run(); // the unpaid invoice is paid
    await agree("recovered and paid");
    await raw(`update invoices set paid_at = ? where id = ?`)
      .bind(at(2, 28), q + "i2")
      .run(); // a paid date corrected into another month
    await raw(`update invoices set total = 3_000, tax = 100 where id = ?`)
      .bind(q + "i1")
      .run(); // an amount corrected
    await raw(`update invoices set synced_at = synced_at + 1`).run(); // a sync that changes nothing billed
    await agree("invoices moved and corrected");
    await raw(`update invoices set status = 'void', paid_at = null where id = ?`)
      .bind(q + "i2")
      .run();
    await raw(`delete from invoices where id = ?`)
      .bind(q + "i1")
      .run();
    await raw(`delete from subscriptions where id = ?`)
      .bind(q + "A2")
      .run();
    await raw(`update subscriptions set customer_id = ? where id = ?`)
      .bind(q + "C", q + "A1")
      .run(); // moved to another customer
    await agree("deleted and moved");
    expect(await storedCurrent()).toEqual([
      { customer_id: q + "B", tier: "mobile", mrr: MOBILE, standing: "past_due" },
      { customer_id: q + "C", tier: "mobile", mrr: MOBILE, standing: "active" },
    ]);
    expect(await storedRevenue()).toEqual([{ month: "2025-03", revenue: 4_900, invoices: 1 }]);
  });
});
