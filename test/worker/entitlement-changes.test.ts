import { env } from "cloudflare:test";
import { and, asc, eq, inArray, like } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { runCron } from "../../worker/src/cron";
import { pruneEntitlementChanges } from "../../worker/src/entitlements/prune-changes";
import { entitlementAsRead, guard } from "../../worker/src/db/guard";
import { auditLog, entitlementChanges, entitlements } from "../../worker/src/db/schema";
import { noEntitlement, readEntitlementVersioned, setEntitlementState, upsertEntitlement, type EntitlementState } from "../../worker/src/entitlements/state";
import { gatedD1 } from "./gated-d1";
import { call, makeKey, svc, TEST_ACTOR } from "./helpers";
import { db, deliverAll, stripe, subscriber } from "./stripe-helpers";

const DAY_MS = 86_400_000;

interface Page {
  data: { user_id: string; changed_at: string }[];
  next_cursor: string;
  has_more: boolean;
}

let key: string;
beforeAll(async () => {
  key = (await makeKey("service")).key;
});

async function changes(query: string): Promise<Page> {
  const res = await call("GET", `/v1/entitlements/changes${query}`, { key });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json<Page>();
}

/** Every page from `after` to the head, `limit` change rows at a time. */
async function walk(after: string, limit: number): Promise<{ pages: Page[]; end: string }> {
  const pages: Page[] = [];
  let cursor = after;
  for (;;) {
    const page = await changes(`?after=${cursor}&limit=${limit}`);
    pages.push(page);
    cursor = page.next_cursor;
    if (!page.has_more) return { pages, end: cursor };
  }
}

const head = async () => (await changes("")).next_cursor;

/** The entitlement writes of these users as the audit log recorded them, in commit order. */
async function auditedWrites(users: string[]) {
  const rows = await db()
    .select({ subjectId: auditLog.subjectId, action: auditLog.action, after: auditLog.after })
    .from(auditLog)
    .where(and(eq(auditLog.subjectType, "user"), inArray(auditLog.subjectId, users), like(auditLog.action, "entitlement.%")))
    .orderBy(asc(auditLog.seq))
    .all();
  return rows.map((r) => ({ userId: r.subjectId, status: (JSON.parse(r.after!) as { status: string }).status }));
}

async function changeRows(users: string[]) {
  return db().select().from(entitlementChanges).where(inArray(entitlementChanges.userId, users)).orderBy(asc(entitlementChanges.seq)).all();
}

const state = (userId: string, patch: Partial<EntitlementState>): EntitlementState => ({ ...noEntitlement(userId), tier: "local", status: "active", ...patch });

describe("entitlement changes feed", () => {
  it("names every change once, in commit order, from webhook sync, setEntitlementState and the suspension cron, with nothing missed across pages", async () => {
    const start = await head();
    const t = Date.now();
    const set = `user_feed_set_${t}`;
    const lapsed = `user_feed_lapsed_${t}`;

    // A subscriber through signed webhooks (the sync's writeEntitlements), then canceled.
    const { userId: synced, customer, sub } = await subscriber();
    const seen = await deliverAll({ customer: customer.id, sub: sub.id });
    await setEntitlementState(svc(), state(set, { tier: "mobile" }), TEST_ACTOR);
    await stripe().subscriptions.cancel(sub.id);
    await deliverAll({ customer: customer.id, sub: sub.id }, seen);
    await setEntitlementState(svc(), state(set, { status: "canceled", tier: null }), TEST_ACTOR);
    // Past due beyond its grace: the minute cron stores the suspension.
    await setEntitlementState(svc(), state(lapsed, { status: "past_due", customerId: "cus_feed", subscriptionId: "sub_feed", graceUntil: Date.now() - 60_000 }), TEST_ACTOR);
    await runCron("* * * * *", svc());

    const users = [synced, set, lapsed];
    const writes = await auditedWrites(users);
    expect(writes.filter((w) => w.userId === synced).map((w) => w.status)).toEqual(["active", "canceled"]);
    expect(writes.filter((w) => w.userId === set).map((w) => w.status)).toEqual(["active", "canceled"]);
    expect(writes.filter((w) => w.userId === lapsed).map((w) => w.status)).toEqual(["past_due", "suspended"]);

    // The table: one row per write, in the audit log's (commit) order, with the state written.
    const rows = await changeRows(users);
    expect(rows.map((r) => ({ userId: r.userId, status: r.status }))).toEqual(writes);

    // One change row per page: the feed is the table's order exactly, once each.
    const single = await walk(start, 1);
    expect(single.pages.every((p) => p.data.length <= 1)).toBe(true);
    expect(single.pages.flatMap((p) => p.data.map((d) => d.user_id)).filter((u) => users.includes(u))).toEqual(writes.map((w) => w.userId));
    expect(single.end).toBe(await head());

    // Larger pages fold a user's changes into their newest; whatever the page size, every user
    // is named with their newest change, and the walk ends at the same head.
    for (const limit of [2, 3, 1000]) {
      const { pages, end } = await walk(start, limit);
      expect(end, `limit ${limit}`).toBe(single.end);
      for (const p of pages) expect(new Set(p.data.map((d) => d.user_id)).size, `limit ${limit}`).toBe(p.data.length);
      const last = new Map(pages.flatMap((p) => p.data.map((d) => [d.user_id, d.changed_at] as const)));
      for (const u of users) {
        const stored = await db().select({ updatedAt: entitlements.updatedAt }).from(entitlements).where(eq(entitlements.userId, u)).get();
        expect(last.get(u), `${u}, limit ${limit}`).toBe(new Date(stored!.updatedAt).toISOString());
      }
    }

    // From the head on, nothing until the next change, which is named at once.
    const end = single.end;
    expect(await changes(`?after=${end}`)).toEqual({ data: [], next_cursor: end, has_more: false });
    await setEntitlementState(svc(), state(set, { tier: "local" }), TEST_ACTOR);
    const next = await changes(`?after=${end}`);
    expect(next.data.map((d) => d.user_id)).toEqual([set]);
    expect(Number(next.next_cursor)).toBe(Number(end) + 1);
  }, 60_000);

  it("writes neither the entitlement nor its change row when the batch fails on a stale guard", async () => {
    const userId = `user_feed_stale_${Date.now()}`;
    await setEntitlementState(svc(), state(userId, {}), TEST_ACTOR);
    const { version: stale } = await readEntitlementVersioned(db(), userId);
    await setEntitlementState(svc(), state(userId, { tier: "mobile" }), TEST_ACTOR);
    const before = await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get();
    const rowsBefore = await changeRows([userId]);
    const headBefore = await head();

    // A writer that read version `stale` commits after the row moved on.
    await expect(
      db().batch([guard(db(), entitlementAsRead(userId, stale)), ...upsertEntitlement(db(), state(userId, { status: "canceled", tier: null }), Date.now(), stale, state(userId, {}))]),
    ).rejects.toThrow(/stale_read/);

    expect(await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get()).toEqual(before);
    expect(await changeRows([userId])).toEqual(rowsBefore);
    expect(await head()).toBe(headBefore);
  });

  it("keeps one change row per landed write when two writers race on separate D1 handles and the loser retries", async () => {
    const userId = `user_feed_race_${Date.now()}`;
    await setEntitlementState(svc(), state(userId, {}), TEST_ACTOR);
    const start = await head();
    // The slow writer reads, then stops at its batch while the other writer commits.
    const gate = gatedD1(env.DB_RACE);
    const slow = setEntitlementState(svc(undefined, gate.d1), state(userId, { status: "past_due", graceUntil: Date.now() + 86_400_000 }), TEST_ACTOR);
    gate.allow(2);
    await gate.reached(3);
    await setEntitlementState(svc(), state(userId, { tier: "mobile" }), TEST_ACTOR);
    gate.allow(Number.POSITIVE_INFINITY);
    await slow;

    const writes = await auditedWrites([userId]);
    expect(writes.map((w) => w.status)).toEqual(["active", "active", "past_due"]);
    expect((await changeRows([userId])).map((r) => r.status)).toEqual(writes.map((w) => w.status));
    const { pages } = await walk(start, 1);
    expect(pages.flatMap((p) => p.data.map((d) => d.user_id)).filter((u) => u === userId)).toHaveLength(2);
    expect((await db().select().from(entitlements).where(eq(entitlements.userId, userId)).get())?.status).toBe("past_due");
  });

  it("answers without a cursor with the head and no data, so a new reader starts from now", async () => {
    const h = await head();
    const top = await db().select({ seq: entitlementChanges.seq }).from(entitlementChanges).orderBy(asc(entitlementChanges.seq)).all();
    expect(h).toBe(String(top.at(-1)?.seq ?? 0));
    expect(await changes("")).toEqual({ data: [], next_cursor: h, has_more: false });
    expect(await changes("?limit=5")).toEqual({ data: [], next_cursor: h, has_more: false });
  });

  it("refuses a malformed or future cursor, and a limit out of range, with a problem naming the parameter", async () => {
    const h = Number(await head());
    const bad: [string, string][] = [
      ["?after=abc", "query.after"],
      ["?after=", "query.after"],
      ["?after=-1", "query.after"],
      ["?after=01", "query.after"],
      ["?after=1.5", "query.after"],
      ["?after=1e3", "query.after"],
      ["?after=9999999999999999", "query.after"],
      [`?after=${h + 1000}`, "query.after"],
      ["?after=0&limit=0", "query.limit"],
      ["?after=0&limit=1001", "query.limit"],
      ["?after=0&limit=ten", "query.limit"],
      ["?cursor=0", "query.cursor"],
    ];
    for (const [query, field] of bad) {
      const res = await call("GET", `/v1/entitlements/changes${query}`, { key });
      expect(res.status, query).toBe(400);
      expect(res.headers.get("content-type"), query).toContain("application/problem+json");
      const problem = await res.json<{ status: number; errors: { field: string }[] }>();
      expect(problem.status).toBe(400);
      expect(
        problem.errors.map((e) => e.field),
        query,
      ).toContain(field);
    }
  });

  it("keeps a week: the prune deletes older changes as a prefix, keeps the head, and a cursor from before them is refused, naming after, so the reader starts again", async () => {
    const now = Date.now();
    const before = Number(await head());
    const row = (userId: string, changedAt: number) => ({ userId, changedAt, status: "active" as const, tier: "local" });
    const [a, b, c] = await db()
      .insert(entitlementChanges)
      .values([row("user_week_a", now - 8 * DAY_MS), row("user_week_b", now - 8 * DAY_MS), row("user_week_c", now)])
      .returning({ seq: entitlementChanges.seq });
    await pruneEntitlementChanges(svc(now));
    const left = (
      await db()
        .select({ seq: entitlementChanges.seq })
        .from(entitlementChanges)
        .where(inArray(entitlementChanges.seq, [a!.seq, b!.seq, c!.seq]))
        .all()
    ).map((r) => r.seq);
    expect(left).toEqual([c!.seq]);

    const expired = await call("GET", `/v1/entitlements/changes?after=${before}`, { key });
    expect(expired.status).toBe(400);
    const problem = await expired.json<{ detail: string; errors: { field: string; code?: string }[] }>();
    expect(problem.errors).toContainEqual(expect.objectContaining({ field: "query.after", code: "cursor_expired" }));
    expect(problem.detail).toContain("start again without after");
    // A reader that had read everything pruned misses nothing: it goes on.
    expect(await changes(`?after=${b!.seq}`)).toMatchObject({ data: [{ user_id: "user_week_c" }], next_cursor: String(c!.seq) });

    // Everything past its week: the newest row stays, so the head does not move back.
    await pruneEntitlementChanges(svc(now + 30 * DAY_MS));
    expect(await head()).toBe(String(c!.seq));
    expect(await changes(`?after=${c!.seq}`)).toEqual({ data: [], next_cursor: String(c!.seq), has_more: false });
  });

  it("is not mistaken for the online check of a user called changes", async () => {
    const res = await call("GET", "/v1/entitlements/changes", { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty("next_cursor");
  });
});
