/**
 * One rule for time in test mode: a customer on a Stripe test clock lives on that clock's time,
 * for everything the worker decides about them (dunning stages, grace, suspension, access,
 * durations). Real time for everyone else.
 *
 * A caller collects the distinct clocks of the rows it is about to decide on and asks for their
 * times once (one Stripe call per clock per request or cron run), then reads each row's "now"
 * from the answer. A customer without a clock never costs a Stripe call.
 */
import { inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "./db/client";
import { entitlements, type subscriptions } from "./db/schema";
import { describeError } from "./log";
import type { Services } from "./services";

export type ClockDeps = Pick<Services, "stripe" | "clock" | "log">;

export interface ClockTimes {
  /** Real time, read once. */
  readonly wall: number;
  /** The frozen time (ms) of every clock that could be read; a clock Stripe cannot show is absent. */
  readonly clocks: ReadonlyMap<string, number>;
  /** Now for a customer on `clock` (null: real time). A clock that could not be read counts as real time. */
  of(clock: string | null): number;
}

/** A clock's frozen time (ms), or null when Stripe cannot show it (Stripe down, the clock deleted): logged. */
function readClock(s: ClockDeps, clock: string): Promise<number | null> {
  return s.stripe.testHelpers.testClocks.retrieve(clock).then(
    (c) => c.frozen_time * 1000,
    (error: unknown) => {
      s.log.log("warn", "cannot read a test clock; its customers are on real time until it can be read", { clock, error: describeError(error) });
      return null;
    },
  );
}

/**
 * A memo of clock times for one request, cron run or sync: each clock is read from Stripe at most
 * once, however often it is asked for. A clock that cannot be read counts as real time.
 */
export function clockReader(s: ClockDeps): (clock: string | null) => Promise<number> {
  const read = new Map<string, Promise<number | null>>();
  return async (clock) => {
    if (clock === null) return s.clock.now();
    let p = read.get(clock);
    if (!p) read.set(clock, (p = readClock(s, clock)));
    return (await p) ?? s.clock.now();
  };
}

/** Clocks read at once: Stripe's test mode allows about 25 requests a second. */
const CLOCK_READS_AT_ONCE = 8;

/** Reads each distinct clock's frozen time once, a few side by side. A clock that cannot be read is left out of `clocks`. */
export async function clockTimes(s: ClockDeps, clocks: Iterable<string | null>): Promise<ClockTimes> {
  const wall = s.clock.now();
  const ids = [...new Set(clocks)].filter((id): id is string => id !== null);
  const times = new Map<string, number>();
  for (let i = 0; i < ids.length; i += CLOCK_READS_AT_ONCE) {
    const chunk = ids.slice(i, i + CLOCK_READS_AT_ONCE);
    const read = await Promise.all(chunk.map((id) => readClock(s, id)));
    chunk.forEach((id, j) => read[j] !== null && times.set(id, read[j]!));
  }
  return { wall, clocks: times, of: (clock) => (clock === null ? wall : (times.get(clock) ?? wall)) };
}

/** The clocks' times as one JSON parameter: D1 binds at most 100 per query, and a test-mode account has a clock per demo customer. */
const clocksJson = (times: ClockTimes) => JSON.stringify(Object.fromEntries(times.clocks));

/** `times` as SQL over an expression holding each row's clock: the row's now (ms). */
export function nowOfRow(times: ClockTimes, clock: SQL): SQL<number> {
  if (times.clocks.size === 0) return sql<number>`${times.wall}`;
  return sql<number>`coalesce((select j.value from json_each(${clocksJson(times)}) j where j.key = ${clock}), ${times.wall})`;
}

/** Rows on real time or on a clock that could be read: a row on an unreadable clock has no "now" to act on. */
export function onKnownTime(times: ClockTimes, clock: SQL): SQL {
  if (times.clocks.size === 0) return sql`${clock} is null`;
  return sql`(${clock} is null or ${clock} in (select j.key from json_each(${clocksJson(times)}) j))`;
}

/** A subscription row's clock as the mirror stores it: its own, else its customer's (Stripe puts both on the customer's). */
export const subscriptionClock = (subscription: typeof subscriptions) =>
  sql<string | null>`coalesce(${subscription.testClock}, (select c.test_clock from customers c where c.id = ${subscription.customerId}))`;

/** An entitlement row's clock: that of the subscription deciding it, else of its customer. */
export const entitlementClock = sql<
  string | null
>`coalesce((select s.test_clock from subscriptions s where s.id = ${entitlements.subscriptionId}), (select c.test_clock from customers c where c.id = ${entitlements.customerId}))`;

/** The test clock each user lives on (absent: real time). */
export async function userClocks(db: Db, userIds: string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.select({ userId: entitlements.userId, clock: entitlementClock }).from(entitlements).where(inArray(entitlements.userId, userIds)).all();
  return new Map(rows.filter((r): r is { userId: string; clock: string } => r.clock !== null).map((r) => [r.userId, r.clock]));
}

/**
 * Now for one user (a request about them): their clock's time, read once, or real time. Test
 * clocks exist only in test mode, so a live deployment (or one without Stripe) reads nothing.
 */
export async function userNow(s: ClockDeps & Pick<Services, "db" | "stripeMode">, userId: string): Promise<number> {
  if (!inTestMode(s)) return s.clock.now();
  const clock = (await userClocks(s.db, [userId])).get(userId) ?? null;
  return clock === null ? s.clock.now() : (await clockTimes(s, [clock])).of(clock);
}

function inTestMode(s: Pick<Services, "stripeMode">): boolean {
  try {
    return s.stripeMode === "test";
  } catch {
    // No Stripe key configured: no clock can be read, and access still answers from the database.
    return false;
  }
}
