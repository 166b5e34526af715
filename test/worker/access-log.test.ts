/**
 * The access activity log: an allowed online check and a token that grants a feature are counted
 * per user at the customer's time, after the answer (waitUntil, waited on here through the
 * execution context, so a write that did not land fails the test); a denied check is not; the
 * count over a period is exact at its bounds; the quarter-hour cron prunes rows 180 days after
 * their period's end.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { fixedClock, systemClock, type Clock } from "../../worker/src/clock";
import { CRONS } from "../../worker/src/cron";
import { accessChecks } from "../../worker/src/db/schema";
import { ACCESS_LOG_POLICY, accessActivity, accessByDay, recordAccess } from "../../worker/src/entitlements";
import { noEntitlement, setEntitlementState } from "../../worker/src/entitlements/state";
import { isDomainError } from "../../worker/src/errors";
import worker from "../../worker/src/index";
import { freshIp, makeKey, svc, TEST_ACTOR } from "./helpers";
import { db, deliverAll, stripe, subscriber, testClock } from "./stripe-helpers";

const DAY = 86_400_000;
let service: string;
let seq = 0;

beforeAll(async () => {
  service = (await makeKey("service")).key;
});

/** A request as Cloudflare serves it, on `clock`, waiting for what it left running after the answer. */
async function served(clock: Clock, path: string, body: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const req = new Request(`http://billing.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${service}`, "content-type": "application/json", "cf-connecting-ip": freshIp() },
    body: JSON.stringify(body),
  });
  const res = await createApp(clock).fetch(req, env, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status, await res.clone().text()).toBe(200);
  return res;
}

const check = async (clock: Clock, userId: string, feature: string) => (await served(clock, "/v1/entitlements/check", { user_id: userId, feature })).json<{ allowed: boolean }>();
const token = (clock: Clock, userId: string) => served(clock, "/v1/entitlements/token", { user_id: userId });

/** A Local subscriber on real time whose period is [start, end), stored as the mirror would. */
async function localSubscriber(start: number, end: number) {
  const userId = `access_log_${Date.now().toString(36)}_${++seq}`;
  await setEntitlementState(svc(start), { ...noEntitlement(userId), customerId: `cus_${userId}`, subscriptionId: `sub_${userId}`, tier: "local", status: "active", currentPeriodEnd: end }, TEST_ACTOR);
  return userId;
}

describe("the access log counts allowed access", () => {
  it("counts an allowed online check and a token that grants features, at the time the request ran", async () => {
    const start = Date.UTC(2026, 2, 15, 12);
    const end = Date.UTC(2026, 3, 15, 12);
    const userId = await localSubscriber(start, end);
    expect((await check(fixedClock(start + 1234), userId, "local_job_search")).allowed).toBe(true);
    await token(fixedClock(start + 5 * DAY), userId);
    expect(await accessActivity(db(), { userId, from: start, to: end })).toEqual({ allowed: 2, firstAt: start + 1234, lastAt: start + 5 * DAY });
    const rows = await db().select().from(accessChecks).where(eq(accessChecks.userId, userId)).all();
    expect(rows.map((r) => [r.kind, r.periodEnd]).sort()).toEqual([
      ["check", end],
      ["token", end],
    ]);
  });

  it("does not count a denied check, nor a token that grants nothing", async () => {
    const start = Date.UTC(2026, 2, 15, 12);
    const end = Date.UTC(2026, 3, 15, 12);
    const userId = await localSubscriber(start, end);
    expect((await check(fixedClock(start + DAY), userId, "nationwide_job_search")).allowed).toBe(false);
    const nobody = `access_log_none_${++seq}_${Date.now().toString(36)}`;
    await token(fixedClock(start + DAY), nobody);
    expect((await check(fixedClock(start + DAY), nobody, "local_job_search")).allowed).toBe(false);
    expect(await accessActivity(db(), { userId, from: start, to: end })).toEqual({ allowed: 0, firstAt: null, lastAt: null });
    expect(await accessActivity(db(), { userId: nobody, from: start, to: end })).toEqual({ allowed: 0, firstAt: null, lastAt: null });
    // No row at all, in any period: the fuzz suite relies on a refusal never writing the log.
    expect(
      await db()
        .select()
        .from(accessChecks)
        .where(inArray(accessChecks.userId, [userId, nobody]))
        .all(),
    ).toEqual([]);
  });

  it("counts exactly within [start, end): not one ms before the start, the start itself, the last ms, not the end", async () => {
    const start = Date.UTC(2026, 4, 1);
    const end = Date.UTC(2026, 5, 1);
    const userId = await localSubscriber(start - DAY, end);
    for (const at of [start - 1, start, start, end - 1, end]) expect((await check(fixedClock(at), userId, "saved_searches")).allowed).toBe(true);
    expect(await accessActivity(db(), { userId, from: start, to: end })).toEqual({ allowed: 3, firstAt: start, lastAt: end - 1 });
    expect(await accessActivity(db(), { userId, from: start - 1000, to: start })).toEqual({ allowed: 1, firstAt: start - 1, lastAt: start - 1 });
    expect(await accessActivity(db(), { userId, from: end, to: end + 1000 })).toEqual({ allowed: 1, firstAt: end, lastAt: end });
    // Two checks in one second share a row: the write stays one small upsert.
    expect((await db().select().from(accessChecks).where(eq(accessChecks.userId, userId)).all()).find((r) => r.second === start / 1000)).toMatchObject({ count: 2, firstAt: start, lastAt: start });
  });

  it("refuses a period whose bounds are not whole seconds, since the log could not count it exactly", async () => {
    const refused = await accessActivity(db(), { userId: "anyone", from: Date.UTC(2026, 0, 1) + 1, to: Date.UTC(2026, 1, 1) }).catch((e: unknown) => e);
    expect(isDomainError(refused, "validation_failed") && refused.details.errors?.[0]?.field).toBe("from");
  });

  it("groups the period's checks by day for the evidence", async () => {
    const start = Date.UTC(2026, 6, 1);
    const end = Date.UTC(2026, 7, 1);
    const userId = await localSubscriber(start, end);
    for (const at of [start + 10_000, start + 20_000, start + 2 * DAY + 5]) await recordAccess(db(), { userId, at, kind: "check", periodEnd: end, recordedAt: at });
    expect(await accessByDay(db(), { userId, from: start, to: end })).toEqual([
      { day: start, allowed: 2, firstAt: start + 10_000, lastAt: start + 20_000 },
      { day: start + 2 * DAY, allowed: 1, firstAt: start + 2 * DAY + 5, lastAt: start + 2 * DAY + 5 },
    ]);
  });
});

describe("the access log on a Stripe test clock", () => {
  it("dates a check by the customer's clock, not by real time", async () => {
    const startSeconds = Math.floor((Date.now() - 90 * DAY) / 1000);
    const clock = await testClock(startSeconds);
    const { userId, customer, sub } = await subscriber({ testClock: clock.id });
    await deliverAll({ customer: customer.id, sub: sub.id });
    await clock.advanceDays(3);
    const frozen = (await stripe().testHelpers.testClocks.retrieve(clock.id)).frozen_time * 1000;
    expect((await check(systemClock, userId, "local_job_search")).allowed).toBe(true);
    await token(systemClock, userId);
    const period = { from: sub.items.data[0]!.current_period_start * 1000, to: sub.items.data[0]!.current_period_end * 1000 };
    expect(await accessActivity(db(), { userId, ...period })).toEqual({ allowed: 2, firstAt: frozen, lastAt: frozen });
  }, 60_000);
});

describe("the access log's retention", () => {
  it("is pruned by the quarter-hour cron 180 days after the end of the period a row fell in, not before", async () => {
    const now = Date.now();
    const keep = ACCESS_LOG_POLICY.retainAfterPeriodEndDays * DAY;
    const userId = `access_log_prune_${++seq}_${now.toString(36)}`;
    const old = now - keep - 400 * DAY;
    // A check long ago in a period that ended within the retention stays; one whose period ended before it goes.
    // On real time (recorded when they happened).
    await recordAccess(db(), { userId, at: old, kind: "check", periodEnd: now - keep + DAY, recordedAt: old });
    await recordAccess(db(), { userId, at: old + 1000, kind: "check", periodEnd: now - keep - DAY, recordedAt: old + 1000 });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: CRONS.dunning, scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);
    const left = await db().select().from(accessChecks).where(eq(accessChecks.userId, userId)).all();
    expect(left.map((r) => r.firstAt)).toEqual([old]);
  });

  it("counts from the period's end on real time: a test clock far behind real time keeps its fresh rows", async () => {
    const now = Date.now();
    const userId = `access_log_clock_${++seq}_${now.toString(36)}`;
    // The customer's clock is 400 days behind: their period ends 30 days after the check, on their clock.
    const at = now - 400 * DAY;
    await recordAccess(db(), { userId, at, kind: "check", periodEnd: at + 30 * DAY, recordedAt: now });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: CRONS.dunning, scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await db().select().from(accessChecks).where(eq(accessChecks.userId, userId)).all()).map((r) => r.retainFrom)).toEqual([now + 30 * DAY]);
  });
});
