/**
 * Disputes and early fraud warnings in the monthly report (hand-built months, written to D1 as
 * the mirror writes them) and the alert when the month's dispute rate passes the policy's
 * threshold: once per month and currency. The figures are in a currency no other test uses
 * (chf) and months long past, so the shared database's other rows do not count.
 */
import { describe, expect, it } from "vitest";
import { fixedClock } from "../../worker/src/clock";
import { disputes, earlyFraudWarnings, invoices } from "../../worker/src/db/schema";
import { detectConditions, raiseAlerts } from "../../worker/src/monitoring/alerts";
import { MONITORING_THRESHOLDS } from "../../worker/src/monitoring/thresholds";
import { call, makeKey, svc } from "./helpers";
import { db } from "./stripe-helpers";

const at = (iso: string) => Date.parse(iso);
let n = 0;
const uid = (p: string) => `${p}_dr_${Date.now().toString(36)}_${++n}`;

async function invoice(currency: string, paidAt: number | null, amountPaid: number, status: "paid" | "open" = "paid") {
  await db()
    .insert(invoices)
    .values({
      id: uid("in"),
      customerId: "cus_dispute_report",
      subscriptionId: null,
      userId: null,
      status,
      billingReason: "subscription_cycle",
      currency,
      subtotal: amountPaid,
      tax: 0,
      discountTotal: 0,
      total: amountPaid,
      amountDue: amountPaid,
      amountPaid: status === "paid" ? amountPaid : 0,
      amountRemaining: status === "paid" ? 0 : amountPaid,
      attemptCount: 1,
      createdAt: paidAt ?? at("2019-03-10T00:00:00Z"),
      paidAt,
      syncedAt: Date.now(),
    })
    .run();
}

async function dispute(currency: string, createdAt: number, o: { status?: string; fee?: number; closedAt?: number | null } = {}) {
  await db()
    .insert(disputes)
    .values({
      id: uid("dp"),
      chargeId: uid("ch"),
      amount: 4900,
      currency,
      reason: "fraudulent",
      status: o.status ?? "needs_response",
      fee: o.fee ?? 1500,
      createdAt,
      closedAt: o.closedAt ?? null,
      syncedAt: Date.now(),
    })
    .run();
}

async function warning(currency: string, createdAt: number) {
  await db()
    .insert(earlyFraudWarnings)
    .values({ id: uid("issfr"), chargeId: uid("ch"), fraudType: "made_with_stolen_card", actionable: true, amount: 4900, currency, createdAt, syncedAt: Date.now() })
    .run();
}

interface Row {
  period: string;
  refunded: number;
  disputes_opened: number;
  disputes_lost: number;
  dispute_rate: number | null;
  dispute_fees: number;
  early_fraud_warnings: number;
}

describe("disputes and early fraud warnings in the monthly report", () => {
  it("counts each month's disputes opened and lost, the rate over charges, the fees and the warnings, exactly", async () => {
    // February: one charge, one dispute opened (lost in March).
    await invoice("chf", at("2019-02-14T10:00:00Z"), 4900);
    await dispute("chf", at("2019-02-20T00:00:00Z"), { status: "lost", closedAt: at("2019-03-05T00:00:00Z") });
    // March: three charges (the last a millisecond before April); a $0 invoice and an open one are no charges.
    await invoice("chf", at("2019-03-01T00:00:00Z"), 2900);
    await invoice("chf", at("2019-03-15T12:00:00Z"), 4900);
    await invoice("chf", at("2019-03-31T23:59:59.999Z"), 4900);
    await invoice("chf", at("2019-03-02T00:00:00Z"), 0);
    await invoice("chf", null, 4900, "open");
    // Two disputes opened in March: one lost in April, one still open; fees 1500 and 2000.
    await dispute("chf", at("2019-03-03T00:00:00Z"), { status: "lost", closedAt: at("2019-04-02T00:00:00Z") });
    await dispute("chf", at("2019-03-31T23:00:00Z"), { fee: 2000 });
    // Warnings: two on March's chf charges, one on a usd charge (another report), one in April.
    await warning("chf", at("2019-03-04T00:00:00Z"));
    await warning("chf", at("2019-03-30T00:00:00Z"));
    await warning("usd", at("2019-03-04T00:00:00Z"));
    await warning("chf", at("2019-04-01T00:00:00Z"));
    // Another currency's dispute in March counts in its own report only.
    await dispute("usd", at("2019-03-10T00:00:00Z"));

    const analyst = (await makeKey("analyst")).key;
    const res = await call("GET", "/v1/analytics/report?from=2019-02&to=2019-04&currency=chf", { key: analyst });
    expect(res.status).toBe(200);
    const { rows } = (await res.json()) as { rows: Row[] };
    const picked = rows.map(({ period, refunded, disputes_opened, disputes_lost, dispute_rate, dispute_fees, early_fraud_warnings }) => ({
      period,
      refunded,
      disputes_opened,
      disputes_lost,
      dispute_rate,
      dispute_fees,
      early_fraud_warnings,
    }));
    expect(picked).toEqual([
      { period: "2019-02", refunded: 0, disputes_opened: 1, disputes_lost: 0, dispute_rate: 1, dispute_fees: 1500, early_fraud_warnings: 0 },
      { period: "2019-03", refunded: 0, disputes_opened: 2, disputes_lost: 1, dispute_rate: 0.6667, dispute_fees: 3500, early_fraud_warnings: 2 },
      { period: "2019-04", refunded: 0, disputes_opened: 0, disputes_lost: 1, dispute_rate: null, dispute_fees: 0, early_fraud_warnings: 1 },
    ]);

    // A quarter sums the months and divides the sums: 3 disputes over 4 charges.
    const quarter = (await (await call("GET", "/v1/analytics/report?period=quarterly&from=2019-01&to=2019-03&currency=chf", { key: analyst })).json()) as { rows: Row[] };
    expect(quarter.rows[0]).toMatchObject({ period: "2019-Q1", disputes_opened: 3, disputes_lost: 1, dispute_rate: 0.75, dispute_fees: 5000, early_fraud_warnings: 2 });

    // The CSV has the same columns, after refunded.
    const csv = await (await call("GET", "/v1/analytics/report?from=2019-03&to=2019-03&currency=chf", { key: analyst, headers: { accept: "text/csv" } })).text();
    const [head, line] = csv.trim().split("\r\n");
    const cells = Object.fromEntries(head!.split(",").map((k, i) => [k, line!.split(",")[i]]));
    expect(cells).toMatchObject({ refunded: "0", disputes_opened: "2", disputes_lost: "1", dispute_rate: "0.6667", dispute_fees: "3500", early_fraud_warnings: "2" });
    expect(head).toContain("refunded,disputes_opened,disputes_lost,dispute_rate,dispute_fees,early_fraud_warnings,ltv");
  });
});

describe("the dispute rate alert", () => {
  it("fires when the month's rate passes the policy's threshold, once per month and currency", async () => {
    // 250 charges in May 2019 in sek: one dispute is 0.4 % (under 0.5 %), a second 0.8 % (over).
    for (let i = 0; i < 250; i++) await invoice("sek", at("2019-05-02T00:00:00Z") + i * 60_000, 2900);
    const detected = async (iso: string) => (await detectConditions(svc(fixedClock(at(iso))))).filter((d) => d.condition === "dispute_rate_high" && d.subject?.startsWith("sek:"));
    await dispute("sek", at("2019-05-03T00:00:00Z"));
    expect(await detected("2019-05-10T00:00:00Z")).toEqual([]);
    await dispute("sek", at("2019-05-04T00:00:00Z"));
    const may = await detected("2019-05-10T00:00:00Z");
    expect(may).toEqual([
      expect.objectContaining({
        subject: "sek:2019-05",
        level: 1,
        windowStart: at("2019-05-01T00:00:00Z"),
        details: { currency: "sek", month: "2019-05", charges: 250, disputes_opened: 2, dispute_rate: 0.008, threshold: MONITORING_THRESHOLDS.disputeRate.max },
      }),
    ]);
    const raise = async (iso: string) => raiseAlerts(svc(fixedClock(at(iso))), await detected(iso));
    const first = await raise("2019-05-10T00:00:00Z");
    expect(first.map((a) => [a.id, a.window_start])).toEqual([[`dispute_rate_high:sek:2019-05:${at("2019-05-01T00:00:00Z")}:1`, "2019-05-01T00:00:00.000Z"]]);
    expect(first[0]).not.toHaveProperty("windowStart");
    // Later the same month, days past any fixed window: nothing new.
    expect(await raise("2019-05-10T00:05:00Z")).toEqual([]);
    expect(await raise("2019-05-28T00:00:00Z")).toEqual([]);
    // June is another month: without June's charges there is no rate, and so no alert.
    expect(await detected("2019-06-02T00:00:00Z")).toEqual([]);
  });
});
