/**
 * An organization's seats (issue 25): assigning and releasing them, and what a seat grants: tier
 * agency with the org_id on the stored entitlement, the token, the online check and the changes
 * feed, the better of a seat and the user's own plan, and the fallback the moment the seat is
 * released or the term ends. The last seat raced from two D1 handles is taken once.
 */
import { env } from "cloudflare:test";
import { and, eq, gt } from "drizzle-orm";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { entitlementChanges, entitlements, organizationMembers, organizations } from "../../worker/src/db/schema";
import { isDomainError } from "../../worker/src/errors";
import { assignSeat } from "../../worker/src/organizations";
import { gatedD1 } from "./gated-d1";
import { call, makeKey, svc, TEST_ACTOR } from "./helpers";
import { expectProblem, makeKeys, paying } from "./lifecycle-helpers";
import { agencyBody } from "./organization-helpers";
import { db, deliver, eventsFor, settled, stripe, testClock } from "./stripe-helpers";

let service: string;
let analyst: string;
beforeAll(async () => {
  await makeKeys();
  service = (await makeKey("service")).key;
  analyst = (await makeKey("analyst")).key;
});

let n = 0;
const newOrg = () => `org_m_${Date.now().toString(36)}_${++n}`;
const newUser = () => `user_seat_${Date.now().toString(36)}_${++n}`;

async function organization(seats: number, extra: Record<string, unknown> = {}): Promise<string> {
  const orgId = newOrg();
  const res = await call("POST", "/v1/organizations", { key: service, body: agencyBody(orgId, { seats, ...extra }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return orgId;
}

const assign = (orgId: string, userId: string) => call("PUT", `/v1/organizations/${orgId}/members/${userId}`, { key: service });
const release = (orgId: string, userId: string) => call("DELETE", `/v1/organizations/${orgId}/members/${userId}`, { key: service });
const entitlementOf = async (userId: string) =>
  (await call("GET", `/v1/entitlements/${userId}`, { key: service })).json<{ tier: string | null; status: string; features: string[]; org_id: string | null }>();
const check = async (userId: string, feature: string) =>
  (await call("POST", "/v1/entitlements/check", { key: service, body: { user_id: userId, feature } })).json<{ allowed: boolean; reason: string }>();

describe("seats", () => {
  it("assigns every seat, refuses one more with 409 seats-exhausted, answers a second assignment with the first, and frees a released seat at once", async () => {
    const orgId = await organization(3);
    const users = [newUser(), newUser(), newUser(), newUser()];
    const first = await assign(orgId, users[0]!);
    expect(first.status).toBe(200);
    const assignment = await first.json<{ org_id: string; user_id: string; assigned_at: string }>();
    expect(assignment).toMatchObject({ org_id: orgId, user_id: users[0] });
    const again = await assign(orgId, users[0]!);
    expect([again.status, await again.json()]).toEqual([200, assignment]);
    for (const u of users.slice(1, 3)) expect((await assign(orgId, u)).status).toBe(200);
    const refused = await expectProblem(await assign(orgId, users[3]!), 409, "seats_exhausted", "path.user_id");
    expect(refused).toMatchObject({ seats: 3, seats_assigned: 3 });
    expect((await entitlementOf(users[3]!)).tier).toBeNull();

    const org = await (await call("GET", `/v1/organizations/${orgId}`, { key: analyst })).json<{ seats_assigned: number }>();
    expect(org.seats_assigned).toBe(3);

    expect((await release(orgId, users[1]!)).status).toBe(204);
    await expectProblem(await release(orgId, users[1]!), 404, "not_found", "path.user_id");
    expect((await assign(orgId, users[3]!)).status).toBe(200);
    expect((await db().select().from(organizationMembers).where(eq(organizationMembers.orgId, orgId)).all()).map((m) => m.userId).sort()).toEqual([users[0], users[2], users[3]].sort());
  });

  it("lists the members newest first, a page at a time", async () => {
    const orgId = await organization(3);
    const users = [newUser(), newUser(), newUser()];
    for (const u of users) expect((await assign(orgId, u)).status).toBe(200);
    const page1 = await (await call("GET", `/v1/organizations/${orgId}/members?limit=2`, { key: analyst })).json<{ data: { user_id: string }[]; has_more: boolean }>();
    expect(page1.has_more).toBe(true);
    const page2 = await (await call("GET", `/v1/organizations/${orgId}/members?limit=2&starting_after=${page1.data[1]!.user_id}`, { key: analyst })).json<{
      data: { user_id: string }[];
      has_more: boolean;
    }>();
    expect(page2.has_more).toBe(false);
    expect([...page1.data, ...page2.data].map((m) => m.user_id).sort()).toEqual([...users].sort());
    await expectProblem(await call("GET", `/v1/organizations/${orgId}/members?starting_after=user_nobody`, { key: analyst }), 400, "validation_failed", "query.starting_after");
    await expectProblem(await call("GET", "/v1/organizations/org_nobody/members", { key: analyst }), 404, "not_found", "path.org_id");
  });

  it("a seat holder is tier agency with the org_id in the stored entitlement, the token and the online check, and the changes feed names them on assign and release", async () => {
    const orgId = await organization(1);
    const userId = newUser();
    const [{ seq: head } = { seq: 0 }] = await db()
      .select({ seq: entitlementChanges.seq })
      .from(entitlementChanges)
      .orderBy(entitlementChanges.seq)
      .all()
      .then((r) => r.slice(-1));
    expect((await assign(orgId, userId)).status).toBe(200);
    expect(await entitlementOf(userId)).toMatchObject({ tier: "agency", status: "active", org_id: orgId, features: expect.arrayContaining(["mobile_app", "nationwide_job_search"]) });
    const token = await (await call("POST", "/v1/entitlements/token", { key: service, body: { user_id: userId } })).json<{ token: string }>();
    expect(decodeJwt(token.token)).toMatchObject({ sub: userId, tier: "agency", status: "active", org_id: orgId });
    expect(await check(userId, "mobile_app")).toMatchObject({ allowed: true, reason: "included" });

    expect((await release(orgId, userId)).status).toBe(204);
    expect(await entitlementOf(userId)).toMatchObject({ tier: null, status: "none", org_id: null });
    expect(await check(userId, "mobile_app")).toMatchObject({ allowed: false });
    const after = await (await call("POST", "/v1/entitlements/token", { key: service, body: { user_id: userId } })).json<{ token: string }>();
    expect(decodeJwt(after.token).org_id).toBeUndefined();
    const feed = await db()
      .select({ status: entitlementChanges.status, tier: entitlementChanges.tier })
      .from(entitlementChanges)
      .where(and(eq(entitlementChanges.userId, userId), gt(entitlementChanges.seq, head)))
      .all();
    expect(feed).toEqual([
      { status: "active", tier: "agency" },
      { status: "none", tier: null },
    ]);
  });

  it("a subscriber of their own gets the better of the seat and their plan, and falls back to their plan when the seat is released", async () => {
    const own = await paying("local");
    const orgId = await organization(1);
    expect(await entitlementOf(own.userId)).toMatchObject({ tier: "local", status: "active", org_id: null });
    expect(await check(own.userId, "mobile_app")).toMatchObject({ allowed: false });
    expect((await assign(orgId, own.userId)).status).toBe(200);
    expect(await entitlementOf(own.userId)).toMatchObject({ tier: "agency", org_id: orgId });
    expect(await check(own.userId, "mobile_app")).toMatchObject({ allowed: true });
    // Their own subscription is untouched and still theirs to manage.
    expect((await call("GET", `/v1/subscriptions/${own.userId}`, { key: analyst })).status).toBe(200);
    expect((await release(orgId, own.userId)).status).toBe(204);
    expect(await entitlementOf(own.userId)).toMatchObject({ tier: "local", status: "active", org_id: null });
  });

  it("when the term ends without a renewal, the seats end with it and each holder falls back to their own plan", async () => {
    const clock = await testClock();
    const orgId = await organization(2, { test_clock: clock.id });
    const own = await paying("local");
    const bare = newUser();
    for (const u of [own.userId, bare]) expect((await assign(orgId, u)).status).toBe(200);
    const row = (await db().select().from(organizations).where(eq(organizations.orgId, orgId)).get())!;
    await stripe().invoices.pay((await stripe().subscriptions.retrieve(row.subscriptionId!)).latest_invoice as string, { paid_out_of_band: true });
    await clock.advanceTo(row.termEnd! + 3_600_000);
    const ended = (await eventsFor([row.subscriptionId!])).filter((e) => e.type === "customer.subscription.deleted");
    expect(ended).toHaveLength(1);
    expect((await deliver(ended[0]!)).status).toBe(200);
    expect(await settled(ended[0]!.id)).toBe("processed");
    expect(await entitlementOf(own.userId)).toMatchObject({ tier: "local", status: "active", org_id: null });
    expect(await entitlementOf(bare)).toMatchObject({ tier: null, status: "none", org_id: null });
    const org = await (await call("GET", `/v1/organizations/${orgId}`, { key: analyst })).json<{ status: string }>();
    expect(org.status).toBe("ended");
    await expectProblem(await assign(orgId, newUser()), 409, "conflict", "path.org_id");
  });
});

describe("the last seat, raced", () => {
  it("is taken by one of two isolates on separate D1 handles, wherever the other is stopped (before its batch, its read of the audit head, or its second query); the other gets seats_exhausted", async () => {
    const outcome = async (p: Promise<unknown>) =>
      p.then(
        () => "assigned",
        (e: unknown) => (isDomainError(e, "seats_exhausted") ? "seats_exhausted" : Promise.reject(e)),
      );
    // First alone, to count its queries; then stopped before its batch (the audit chain's head
    // moves under it), before its read of the chain's head (the count it read is stale but the head
    // is not: only the seat-count guard stops it) and before its second query, while the other
    // takes the seat.
    const counting = gatedD1(env.DB_RACE);
    const probeOrg = await organization(1);
    const probe = assignSeat(svc(undefined, counting.d1), TEST_ACTOR, probeOrg, newUser());
    counting.allow(Number.POSITIVE_INFINITY);
    await probe;
    const steps = counting.started;
    expect(steps).toBeGreaterThan(3);
    for (const k of [steps, steps - 1, 2]) {
      const orgId = await organization(1);
      const gate = gatedD1(env.DB_RACE);
      const slow = outcome(assignSeat(svc(undefined, gate.d1), TEST_ACTOR, orgId, newUser()));
      gate.allow(k - 1);
      await gate.reached(k);
      const fast = await outcome(assignSeat(svc(), TEST_ACTOR, orgId, newUser()));
      gate.allow(Number.POSITIVE_INFINITY);
      expect([fast, await slow], `stopped before query ${k}`).toEqual(["assigned", "seats_exhausted"]);
      const members = await db().select().from(organizationMembers).where(eq(organizationMembers.orgId, orgId)).all();
      expect(members).toHaveLength(1);
      const granted = await db().select().from(entitlements).where(eq(entitlements.orgId, orgId)).all();
      expect(granted.map((e) => e.userId)).toEqual(members.map((m) => m.userId));
    }
  }, 60_000);
});

describe("the manage_seats tool", () => {
  it("assigns and releases a seat as the members routes do, with the same refusal when every seat is taken", async () => {
    const orgId = await organization(1);
    const [a, b] = [newUser(), newUser()];
    const tool = (body: unknown) => call("POST", "/v1/tools/manage_seats", { key: service, body });
    const assigned = await tool({ org_id: orgId, user_id: a, action: "assign" });
    expect(assigned.status).toBe(200);
    expect(await assigned.json()).toMatchObject({ org_id: orgId, user_id: a, holds_seat: true });
    expect(await entitlementOf(a)).toMatchObject({ tier: "agency", org_id: orgId });
    await expectProblem(await tool({ org_id: orgId, user_id: b, action: "assign" }), 409, "seats_exhausted");
    const released = await tool({ org_id: orgId, user_id: a, action: "release" });
    expect(await released.json()).toMatchObject({ holds_seat: false, assigned_at: null });
    expect(await entitlementOf(a)).toMatchObject({ tier: null, org_id: null });
    expect((await call("POST", "/v1/tools/manage_seats", { key: analyst, body: { org_id: orgId, user_id: b, action: "assign" } })).status).toBe(403);
  });
});
