/**
 * A customer on a Stripe test clock lives on that clock's time, for access as for dunning: the
 * grace's end, the minute cron's suspension, the online check, the token and churn risk's
 * durations all compare with the clock, which here runs weeks ahead of real time.
 */
import { decodeJwt } from "jose";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { churnRisk } from "../../worker/src/analytics";
import { nowOfRow, type ClockTimes } from "../../worker/src/test-clocks";
import { entitlements } from "../../worker/src/db/schema";
import { suspendLapsed } from "../../worker/src/entitlements/suspend";
import { call, makeKey, svc } from "./helpers";
import { entitlementOf, failedRenewal } from "./dunning-helpers";
import { db, deliverAll, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;
let service: string;

beforeAll(async () => {
  service = (await makeKey("service")).key;
});

/** A subscriber whose renewal failed on a test clock, the clock then moved to `day` days after the failure, no dunning tick run. */
async function pastDueOnClock(day: number) {
  const renewal = await failedRenewal();
  const before = await entitlementOf(renewal.userId);
  expect(before).toMatchObject({ status: "past_due", graceUntil: renewal.kase.anchorAt + 21 * DAY });
  await renewal.at(day);
  return renewal;
}

describe("a test-clock customer's access follows the clock", () => {
  it("refuses, in the online check and in the token, a past-due user whose grace ran out on their clock though not in real time", async () => {
    const { userId, kase } = await pastDueOnClock(21.5);
    expect(kase.anchorAt + 21 * DAY).toBeGreaterThan(Date.now());
    const online = await call("GET", `/v1/entitlements/${userId}`, { key: service });
    expect(online.status).toBe(200);
    expect(await online.json()).toMatchObject({ status: "suspended", features: [] });
    const check = await (await call("POST", "/v1/entitlements/check", { key: service, body: { user_id: userId, feature: "local_job_search" } })).json();
    expect(check).toMatchObject({ allowed: false, reason: "suspended" });
    const res = await call("POST", "/v1/entitlements/token", { key: service, body: { user_id: userId } });
    expect(res.status).toBe(200);
    const claims = decodeJwt((await res.json<{ token: string }>()).token);
    expect(claims).toMatchObject({ status: "suspended", features: [] });
    // The token itself is dated in real time: it expires minutes from now, not from the clock's now.
    expect(claims.exp! * 1000).toBeLessThan(Date.now() + DAY);
  }, 60_000);

  it("keeps a past-due user on a clock not yet at the grace's end in, even when real time is later", async () => {
    // A clock started 60 days ago: its renewal failed a month ago, so in real time the grace is over.
    const { userId, kase } = await failedRenewal(undefined, { startSeconds: Math.floor((Date.now() - 60 * DAY) / 1000) });
    expect(kase.anchorAt + 21 * DAY).toBeLessThan(Date.now());
    const online = await (await call("GET", `/v1/entitlements/${userId}`, { key: service })).json();
    expect(online).toMatchObject({ status: "past_due" });
    await suspendLapsed(svc());
    expect((await entitlementOf(userId))?.status).toBe("past_due");
  }, 60_000);

  it("has the minute cron store the suspension of a past-due user whose grace ran out on their clock, dated at the grace's end", async () => {
    const { userId, kase } = await pastDueOnClock(21.5);
    const { suspended } = await suspendLapsed(svc());
    expect(suspended).toContain(userId);
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", suspendedAt: kase.anchorAt + 21 * DAY });
  }, 60_000);

  it("stores a user suspended from the grace's end when an event about them is synced after the grace ran out on their clock", async () => {
    const { userId, kase, ids, seen } = await pastDueOnClock(22);
    await stripe().subscriptions.update(kase.subscriptionId, { metadata: { touched: "after-grace" } });
    await deliverAll(ids, seen);
    expect(await entitlementOf(userId)).toMatchObject({ status: "suspended", suspendedAt: kase.anchorAt + 21 * DAY });
  }, 60_000);
});

describe("churn risk on a test clock", () => {
  it("counts how long a customer whose clock runs ahead has been paying on that clock", async () => {
    const clock = await testClock(Math.floor((Date.now() + 30 * DAY) / 1000));
    const { customer, sub } = await subscriber({ testClock: clock.id });
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    await clock.advanceDays(5);
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    const mine = (await churnRisk(svc(), { limit: 1000 })).customers.find((c) => c.subscription_id === sub.id);
    expect(mine?.reasons.find((r) => r.code === "short_tenure")?.detail).toBe("Paying for 5 days.");
  }, 60_000);
});

describe("clock times in SQL", () => {
  it("gives each row its clock's time with more clocks than D1 binds parameters in one query", async () => {
    // A test-mode account has a clock per demo customer: 200 after `npm start`.
    const clocks = new Map<string, number>(Array.from({ length: 250 }, (_, i) => [`clock_${i}`, 1_000_000 + i]));
    const times: ClockTimes = { wall: 42, clocks, of: (c) => (c === null ? 42 : (clocks.get(c) ?? 42)) };
    const ids = ["clock_0", "clock_249", "clock_unknown"];
    const rows = await db()
      .select({ at: nowOfRow(times, sql`v.column1`) })
      .from(
        sql`(values ${sql.join(
          ids.map((id) => sql`(${id})`),
          sql`, `,
        )}) v`,
      )
      .all();
    expect(rows.map((r) => r.at)).toEqual([1_000_000, 1_000_249, 42]);
  });
});
