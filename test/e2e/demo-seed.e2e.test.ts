/**
 * The demo data `npm start` seeds, played for real against the worker (in-process, Miniflare)
 * and the Stripe emulator delivering signed webhooks: every customer's story through the
 * lifecycle API on their own test clock. Afterwards the worker's mirror agrees with Stripe for
 * every customer, each story left the state it should, and nothing was refused along the way.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoPlan } from "../../scripts/demo/plan.ts";
import type { SeedReport } from "../../scripts/demo/seed.ts";
import { revenueReport } from "../../worker/src/analytics/index.ts";
import { monthlyAmount } from "../../worker/src/stripe-sync/mirror.ts";
import { fixedClock } from "../../worker/src/clock.ts";
import { demoWorld, type DemoWorld } from "../harness/demo.ts";
import type { WorkerHarness } from "../harness/worker.ts";

const CUSTOMERS = 36;
const DAYS = 365;

let world: DemoWorld;
let worker: WorkerHarness;
let stripe: Stripe;
let report: SeedReport;
let issues: string[];
const now = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  world = await demoWorld({ secretKey: "sk_test_demo_seed", customers: CUSTOMERS, days: DAYS, now });
  ({ worker, stripe, report, issues } = world);
}, 300_000);

afterAll(async () => {
  await world?.dispose();
});

const rowsOf = async <T>(sql: string, ...binds: unknown[]) =>
  (
    await worker.db
      .prepare(sql)
      .bind(...binds)
      .all<T>()
  ).results;

describe("demo data", () => {
  it("plays every customer's story through the lifecycle API without a refused or failed step", () => {
    expect(issues).toEqual([]);
    expect(report).toMatchObject({ customers: CUSTOMERS, failedActions: 0 });
  });

  it("leaves the worker's mirror equal to Stripe for every customer", async () => {
    const subs = await rowsOf<{ id: string; user_id: string; status: string; price_id: string; cancel_at_period_end: number }>(
      "select id, user_id, status, price_id, cancel_at_period_end from subscriptions",
    );
    const plan = demoPlan({ customers: CUSTOMERS, days: DAYS });
    expect(new Set(subs.map((s) => s.user_id))).toEqual(new Set(plan.map((c) => c.userId)));
    for (const row of subs) {
      const sub = await stripe.subscriptions.retrieve(row.id);
      expect({ id: row.id, status: row.status, price: row.price_id, cape: Boolean(row.cancel_at_period_end) }).toEqual({
        id: sub.id,
        status: sub.status,
        price: sub.items.data[0]!.price.id,
        cape: sub.cancel_at_period_end,
      });
    }
  });

  it("ends each story in the state it tells: lapsed trials expired, refused offers canceled, upgrades on mobile, the past-due suspended and then cancelled with their invoice uncollectible", async () => {
    const plan = demoPlan({ customers: CUSTOMERS, days: DAYS });
    const ent = new Map((await rowsOf<{ user_id: string; status: string; tier: string | null }>("select user_id, status, tier from entitlements")).map((e) => [e.user_id, e]));
    const seen = new Set<string>();
    const canceledBySuspension: string[] = [];
    for (const c of plan) {
      const e = ent.get(c.userId);
      expect(e, c.userId).toBeDefined();
      const trialDays = c.tier === "local" ? 7 : 14;
      if (c.story === "trial_lapses" && DAYS - c.joinDay > trialDays + 1) expect(e!.status, c.userId).toBe("trial_expired");
      // Only stories whose action happened before today say something about today.
      if (c.actions.length === 0) continue;
      const last = c.actions[c.actions.length - 1]!;
      const daysAgo = DAYS - c.joinDay - last.day;
      if (c.story === "upgrades") expect(e!.tier, c.userId).toBe("mobile");
      if (c.story === "downgrades" && daysAgo > 31) expect(e!.tier, c.userId).toBe("local");
      if (c.story === "refuses_offer" && daysAgo > 31) expect(e!.status, c.userId).toBe("canceled");
      if (c.story === "takes_offer" && c.tier === "local") expect(["active", "past_due"], c.userId).toContain(e!.status);
      // Failing renewal three days after the card broke, then 21 days of grace, then six more
      // before the worker cancels (the default dunning policy).
      if (c.story === "suspended" && daysAgo > 3 + 21 + 2 && daysAgo < 3 + 27 - 1) expect(e!.status, c.userId).toBe("suspended");
      if (c.story === "suspended" && daysAgo > 3 + 27 + 2) {
        expect(e!.status, c.userId).toBe("canceled");
        canceledBySuspension.push(c.userId);
      }
      if (c.story === "recovers_payment" && c.actions.some((a) => a.action.kind === "card_fixed")) expect(e!.status, c.userId).not.toBe("suspended");
      seen.add(c.story);
    }
    expect(seen.size).toBeGreaterThanOrEqual(6);
    // Stripe agrees: cancelled before the next month was billed, the one unpaid renewal marked
    // uncollectible, nothing left open (not one open invoice a month, as when it stayed past_due).
    expect(canceledBySuspension.length, "suspended stories old enough to be cancelled").toBeGreaterThan(0);
    for (const userId of canceledBySuspension) {
      const [row] = await rowsOf<{ id: string; customer_id: string }>("select id, customer_id from subscriptions where user_id = ?", userId);
      expect((await stripe.subscriptions.retrieve(row!.id)).status, userId).toBe("canceled");
      const invoices = (await stripe.invoices.list({ subscription: row!.id, limit: 100 })).data;
      expect(
        invoices.filter((i) => i.status === "open"),
        userId,
      ).toEqual([]);
      expect(invoices.filter((i) => i.status === "uncollectible").length, userId).toBe(1);
      const [kase] = await rowsOf<{ status: string }>("select status from dunning_cases where subscription_id = ?", row!.id);
      expect(kase?.status, userId).toBe("canceled");
    }
  });

  it("records the history analytics reads: plan changes, retention offers and cancellation reasons", async () => {
    const history = await rowsOf<{ changes: string }>("select changes from subscription_history");
    expect(history.some((h) => h.changes.includes("price"))).toBe(true);
    expect(history.some((h) => h.changes.includes("status"))).toBe(true);
    const offers = await rowsOf<{ status: string }>("select status from retention_offers");
    expect(offers.length).toBeGreaterThan(0);
    expect((await rowsOf<{ n: number }>("select count(*) as n from cancellation_requests"))[0]!.n).toBeGreaterThan(0);
    const paid = await rowsOf<{ n: number }>("select count(*) as n from invoices where status = 'paid' and amount_paid > 0");
    expect(paid[0]!.n).toBeGreaterThan(CUSTOMERS);
  });

  it("analytics: every month's movements add up to its MRR change, and current MRR is the sum over Stripe's paying subscriptions by the same definition", async () => {
    const at = Date.now();
    const month = (d: Date) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    const r = await revenueReport({ db: worker.orm, clock: fixedClock(at) }, { period: "monthly", from: month(new Date(at - DAYS * 86_400_000)), to: month(new Date(at)) });
    expect(r.rows.length).toBe(13);
    let previous = r.rows[0]!.opening_mrr;
    for (const row of r.rows) {
      expect(row.opening_mrr, row.period).toBe(previous);
      expect(row.opening_mrr + row.new_mrr + row.expansion_mrr + row.contraction_mrr + row.churned_mrr + row.reactivation_mrr, row.period).toBe(row.closing_mrr);
      previous = row.closing_mrr;
    }
    expect(r.rows.filter((row) => row.new_mrr > 0).length, "months with new MRR").toBeGreaterThan(0);
    expect(r.rows.filter((row) => row.churned_mrr < 0).length, "months with churn").toBeGreaterThan(0);

    // Stripe's side: active and past-due subscriptions, less those the worker has suspended (a
    // dunning fact, not Stripe's), each normalised with the mirror's monthlyAmount and its coupon.
    const suspended = new Set((await rowsOf<{ subscription_id: string }>("select subscription_id from dunning_cases where status = 'suspended'")).map((c) => c.subscription_id));
    let expected = 0;
    let paying = 0;
    for await (const sub of stripe.subscriptions.list({ status: "all", limit: 100, expand: ["data.discounts"] })) {
      if (!["active", "past_due"].includes(sub.status) || suspended.has(sub.id)) continue;
      const item = sub.items.data[0]!;
      const d = sub.discounts[0];
      const discount = d && typeof d !== "string" && (d.end == null || d.end * 1000 > at) ? d : null;
      const coupon = discount ? (typeof discount.source.coupon === "string" ? await stripe.coupons.retrieve(discount.source.coupon) : discount.source.coupon!) : null;
      const terms = coupon ? { id: coupon.id, percentOff: coupon.percent_off ?? null, amountOff: coupon.amount_off ?? null, currency: coupon.currency ?? null } : null;
      expected += monthlyAmount(item.price.unit_amount!, item.quantity ?? 1, item.price.recurring!.interval, item.price.recurring!.interval_count, terms);
      paying++;
    }
    expect(paying).toBeGreaterThan(0);
    expect(r.current.mrr).toBe(expected);
    // The history agrees with the current rows: this month's closing is today's MRR.
    expect(r.rows.at(-1)!.closing_mrr).toBe(r.current.mrr);
  });
});
