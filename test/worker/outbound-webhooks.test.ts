import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { and, eq, inArray } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CRONS } from "../../worker/src/cron";
import { entitlementAsRead, guard } from "../../worker/src/db/guard";
import { dunningCases, emailOutbox, outboundEvents, refunds, webhookAttempts, webhookDeliveries, webhookEndpoints } from "../../worker/src/db/schema";
import { noEntitlement, readEntitlementVersioned, setEntitlementState, upsertEntitlement } from "../../worker/src/entitlements/state";
import { webhookUrlProblem } from "../../worker/src/fields";
import { detectConditions } from "../../worker/src/monitoring/alerts";
import { deliverDue } from "../../worker/src/outbound/deliver";
import { EVENT_TYPES } from "../../worker/src/outbox";
import { DELIVERY_POLICY } from "../../worker/src/outbound/policy";
import { OUTBOX_RETENTION_MS, pruneOutbox } from "../../worker/src/outbound/prune";
import { outboundEventsOfSync } from "../../worker/src/outbound/sync-events";
import { dunningTick } from "../../worker/src/dunning/tick";
import worker from "../../worker/src/index";
import { fixedClock } from "../../worker/src/clock";
import { services } from "../../worker/src/wiring";
import { failedRenewal, recoverPaymentMethod } from "./dunning-helpers";
import { call, freshIp, makeKey, svc, TEST_ACTOR } from "./helpers";
import { db, deliver, deliverAll, eventsFor, settled, stripe, subscriber } from "./stripe-helpers";

interface Received {
  inbox: string;
  status: number;
  body: string;
  headers: Record<string, string>;
}

const receiver = () => inject("alertReceiverBase");
const received = async (inbox: string) => (await (await fetch(`${receiver()}/_requests/${inbox}`)).json()) as Received[];
const DAY = 86_400_000;
let seq = 0;
const unique = (what: string) => `${what}_${Date.now()}_${++seq}`;

const made: string[] = [];
afterEach(async () => {
  // Files share this database: an endpoint left behind would take other files' events.
  const admin = await makeKey("admin");
  for (const id of made.splice(0)) await call("DELETE", `/v1/webhook-endpoints/${id}`, { key: admin.key });
});

async function endpoint(url: string, events: string[] = ["*"]) {
  const admin = await makeKey("admin");
  const res = await call("POST", "/v1/webhook-endpoints", { key: admin.key, body: { url, events } });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { id: string; secret: string; url: string; events: string[]; enabled: boolean; created_at: string; description: string | null };
  made.push(body.id);
  return { ...body, admin: admin.key };
}

const state = (userId: string, over: Partial<ReturnType<typeof noEntitlement>> = {}) => ({ ...noEntitlement(userId), tier: "local", status: "active" as const, ...over });

async function deliveriesOf(endpointId: string) {
  return db().select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId)).orderBy(webhookDeliveries.eventSeq).all();
}

describe("webhook endpoints", () => {
  it("creates an endpoint with a whsec_ secret shown once, lists and reads it without the secret, changes and deletes it", async () => {
    const e = await endpoint(`${receiver()}/ok/${unique("crud")}`, ["entitlement.changed", "invoice.paid"]);
    expect(e.id).toMatch(/^we_[0-9a-f]{24}$/);
    expect(e.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(atob(e.secret.slice(6)).length).toBeGreaterThanOrEqual(24);
    expect(e).toMatchObject({ events: ["entitlement.changed", "invoice.paid"], enabled: true, description: null });
    expect(Date.parse(e.created_at)).not.toBeNaN();

    const got = (await (await call("GET", `/v1/webhook-endpoints/${e.id}`, { key: e.admin })).json()) as Record<string, unknown>;
    expect(got).not.toHaveProperty("secret");
    expect(got).toEqual({ id: e.id, url: e.url, events: e.events, description: null, enabled: true, created_at: e.created_at });
    const list = (await (await call("GET", "/v1/webhook-endpoints", { key: e.admin })).json()) as { data: { id: string }[] };
    expect(list.data.map((d) => d.id)).toContain(e.id);
    expect(JSON.stringify(list)).not.toContain("whsec_");
    // At rest the secret is encrypted, not stored as given.
    const row = await db().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, e.id)).get();
    expect(row!.secret).not.toContain(e.secret.slice(6));

    const patched = await call("PATCH", `/v1/webhook-endpoints/${e.id}`, { key: e.admin, body: { events: ["*"], enabled: false, description: "CRM" } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ events: ["*"], enabled: false, description: "CRM" });

    expect((await call("DELETE", `/v1/webhook-endpoints/${e.id}`, { key: e.admin })).status).toBe(204);
    expect((await call("GET", `/v1/webhook-endpoints/${e.id}`, { key: e.admin })).status).toBe(404);
  });

  it("refuses an unknown event type with a 400 naming body.events, and writes nothing", async () => {
    const admin = await makeKey("admin");
    const before = await db().select().from(webhookEndpoints).all();
    const res = await call("POST", "/v1/webhook-endpoints", { key: admin.key, body: { url: "https://hooks.example.com/billing", events: ["entitlement.changed", "subscription.exploded"] } });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { field: string; message: string }[]; detail: string };
    expect(problem.errors.map((e) => e.field)).toEqual(["body.events"]);
    expect(problem.detail).toContain("subscription.exploded");
    expect(await db().select().from(webhookEndpoints).all()).toHaveLength(before.length);
  });

  it.each([
    ["http://hooks.example.com/x", "must be https"],
    ["https://user:pw@hooks.example.com/x", "user name or password"],
    ["https://10.1.2.3/x", "private"],
    ["https://169.254.169.254/latest", "private"],
    ["https://[::1]/x", "private"],
    ["https://[fd00::1]/x", "private"],
    ["ftp://hooks.example.com/x", "must be https"],
  ])("refuses %s with a 400 naming body.url", async (url, message) => {
    const admin = await makeKey("admin");
    const res = await call("POST", "/v1/webhook-endpoints", { key: admin.key, body: { url, events: ["*"] } });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { field: string; message: string }[] };
    expect(problem.errors[0]!.field).toBe("body.url");
    expect(problem.errors[0]!.message).toContain(message);
  });

  it("allows http only to localhost and 127.0.0.1, and only outside production", () => {
    expect(webhookUrlProblem("http://localhost:9000/hook", "development")).toBeNull();
    expect(webhookUrlProblem("http://127.0.0.1:9000/hook", "test")).toBeNull();
    expect(webhookUrlProblem("http://localhost:9000/hook", "production")).toBe("must be https");
    expect(webhookUrlProblem("https://localhost/hook", "production")).toMatch(/loopback/);
    expect(webhookUrlProblem("https://127.0.0.1/hook", "production")).toMatch(/loopback/);
    // Other spellings of a private address are normalised by the URL parser first.
    expect(webhookUrlProblem("https://2130706433/hook", "production")).toMatch(/loopback/);
    expect(webhookUrlProblem("https://192.168.0.10/hook", "production")).toMatch(/private/);
    expect(webhookUrlProblem("https://hooks.example.com/hook", "production")).toBeNull();
  });

  // Each spelling the URL parser rewrites before the rule sees it: `[::ffff:127.0.0.1]` arrives as
  // `[::ffff:7f00:1]`, so the rule must read the IPv4 address out of the hex groups.
  const privateSpellings = [
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:169.254.169.254]/latest",
    "https://[0:0:0:0:0:ffff:a00:102]/x",
    "https://[::ffff:0:192.168.0.1]/x",
    "https://[::127.0.0.1]/x",
    "https://[::7f00:1]/x",
    "https://[::a9fe:a9fe]/x",
    "https://[64:ff9b::127.0.0.1]/x",
    "https://[64:ff9b::a9fe:a9fe]/x",
    "https://[64:ff9b:1::808:808]/x",
    "https://[::]/x",
    "https://[fe80::1]/x",
    "https://[fec0::1]/x",
    "https://[ff02::1]/x",
    "https://localhost./x",
    "https://LOCALHOST../x",
    "https://api.localhost./x",
    // Full-width letters and the ideographic full stop: IDNA maps them to `localhost.`.
    "https://ｌｏｃａｌｈｏｓｔ。/x",
    "https://127.0.0.1./x",
  ];

  it.each(privateSpellings)("refuses %s in production with a 400 naming body.url", async (url) => {
    const admin = await makeKey("admin");
    const before = await db().select().from(webhookEndpoints).all();
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://billing.test/v1/webhook-endpoints", {
        method: "POST",
        headers: { authorization: `Bearer ${admin.key}`, "content-type": "application/json", "cf-connecting-ip": freshIp() },
        body: JSON.stringify({ url, events: ["*"] }),
      }),
      { ...env, ENVIRONMENT: "production" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status, await res.clone().text()).toBe(400);
    const problem = (await res.json()) as { errors: { field: string; message: string }[] };
    expect(problem.errors.map((e) => e.field)).toEqual(["body.url"]);
    expect(problem.errors[0]!.message).toMatch(/loopback, private or link-local/);
    expect(await db().select().from(webhookEndpoints).all()).toHaveLength(before.length);
  });

  it("refuses the same spellings at delivery time, and still accepts public IPv6 addresses and their mapped IPv4 form", () => {
    for (const url of privateSpellings) expect(webhookUrlProblem(url, "production"), url).toMatch(/loopback, private or link-local/);
    for (const url of [
      "https://[2606:4700:4700::1111]/hook",
      "https://[2001:db8::ffff:7f00:1]/hook",
      "https://[::ffff:8.8.8.8]/hook",
      "https://[64:ff9b::1.1.1.1]/hook",
      "https://hooks.example.com./hook",
    ])
      expect(webhookUrlProblem(url, "production"), url).toBeNull();
  });

  it("fails a delivery to an endpoint saved before the rule caught its spelling, without a request", async () => {
    const inbox = unique("mapped");
    const e = await endpoint(`${receiver()}/ok/${inbox}`, ["entitlement.changed"]);
    // The receiver listens on 127.0.0.1; the same socket, spelt as an IPv4-mapped IPv6 address.
    const mapped = `https://[::ffff:127.0.0.1]:${new URL(receiver()).port}/ok/${inbox}`;
    await db().update(webhookEndpoints).set({ url: mapped }).where(eq(webhookEndpoints.id, e.id));
    const t = Date.now();
    await setEntitlementState(svc(t), state(unique("user_mapped")), TEST_ACTOR);
    const [d] = await deliveriesOf(e.id);
    await deliverDue(services({ ...env, ENVIRONMENT: "production" }, fixedClock(t)), undefined, [d!.id]);
    const attempts = await db().select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, d!.id)).all();
    expect(attempts.map((a) => a.error)).toEqual(["URL not allowed: must not point at a loopback, private or link-local address"]);
    expect(await received(inbox)).toEqual([]);
  });

  it("rotates the secret: deliveries carry the new and the old signature for 24 hours, then only the new", async () => {
    const inbox = unique("rotate");
    const e = await endpoint(`${receiver()}/ok/${inbox}`, ["entitlement.changed"]);
    const rotated = await call("POST", `/v1/webhook-endpoints/${e.id}/rotate-secret`, { key: e.admin });
    expect(rotated.status).toBe(200);
    const { secret } = (await rotated.json()) as { id: string; secret: string };
    expect(secret).not.toBe(e.secret);

    await setEntitlementState(svc(), state(unique("user_rotate")), TEST_ACTOR);
    await deliverDue(svc());
    // The old secret's 24 hours are over.
    await db()
      .update(webhookEndpoints)
      .set({ previousSecretExpiresAt: Date.now() - 1 })
      .where(eq(webhookEndpoints.id, e.id));
    await setEntitlementState(svc(), state(unique("user_rotate")), TEST_ACTOR);
    await deliverDue(svc());
    const [within, after] = await received(inbox);
    const headers = (r: Received) => ({ "webhook-id": r.headers["webhook-id"]!, "webhook-timestamp": r.headers["webhook-timestamp"]!, "webhook-signature": r.headers["webhook-signature"]! });
    expect(within!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    // Verified by the spec's reference implementation, at the attempt's own time.
    for (const s of [secret, e.secret]) expect(new Webhook(s).verify(within!.body, headers(within!))).toBeTruthy();
    expect(after!.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(new Webhook(secret).verify(after!.body, headers(after!))).toBeTruthy();
    expect(() => new Webhook(e.secret).verify(after!.body, headers(after!))).toThrow();
  });
});

describe("the event catalog", () => {
  it("is in /openapi.json under webhooks: each event type's body with its type, timestamp and data, and the signature headers", async () => {
    const doc = (await (await call("GET", "/openapi.json")).json()) as {
      webhooks: Record<string, { post: { parameters: { name: string }[]; requestBody: { content: { "application/json": { schema: { $ref: string } } } } } }>;
    };
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    for (const op of Object.values(doc.webhooks)) {
      expect(op.post.parameters.map((p) => p.name).sort()).toEqual(["webhook-id", "webhook-signature", "webhook-timestamp"]);
      expect(op.post.requestBody.content["application/json"].schema.$ref).toMatch(/^#\/components\/schemas\/WebhookEvent_/);
    }
  });
});

describe("the outbox", () => {
  it("writes entitlement.changed in the entitlement's own batch, with a delivery only for endpoints subscribed to it", async () => {
    const wanted = await endpoint(`${receiver()}/ok/${unique("sub")}`, ["entitlement.changed"]);
    const other = await endpoint(`${receiver()}/ok/${unique("other")}`, ["invoice.paid"]);
    const userId = unique("user_outbox");
    await setEntitlementState(svc(), state(userId, { trialEnd: null }), TEST_ACTOR);
    const events = await db().select().from(outboundEvents).where(eq(outboundEvents.userId, userId)).all();
    expect(events).toHaveLength(1);
    const body = JSON.parse(events[0]!.body) as { type: string; timestamp: string; data: { user_id: string; before: unknown; after: Record<string, unknown> } };
    expect(body.type).toBe("entitlement.changed");
    expect(body.data.before).toBeNull();
    expect(body.data.after).toMatchObject({ tier: "local", status: "active", trial_end: null, grace_until: null });
    expect(body.data.after.features).toEqual(expect.any(Array));
    expect(events[0]!.id).toMatch(/^msg_/);
    expect((await deliveriesOf(wanted.id)).map((d) => d.eventId)).toEqual([events[0]!.id]);
    expect(await deliveriesOf(other.id)).toEqual([]);
  });

  it("writes no event when the change's batch fails: a stale writer's entitlement, feed row and event roll back together", async () => {
    const e = await endpoint(`${receiver()}/ok/${unique("rollback")}`);
    const userId = unique("user_rollback");
    await setEntitlementState(svc(), state(userId), TEST_ACTOR);
    const { state: read, version: stale } = await readEntitlementVersioned(db(), userId);
    await setEntitlementState(svc(), state(userId, { tier: "mobile" }), TEST_ACTOR);
    const eventsBefore = await db().select().from(outboundEvents).where(eq(outboundEvents.userId, userId)).all();
    await expect(db().batch([guard(db(), entitlementAsRead(userId, stale)), ...upsertEntitlement(db(), state(userId, { status: "canceled" }), Date.now(), stale, read)])).rejects.toThrow(/stale_read/);
    expect(await db().select().from(outboundEvents).where(eq(outboundEvents.userId, userId)).all()).toEqual(eventsBefore);
    expect(await deliveriesOf(e.id)).toHaveLength(eventsBefore.length);
  });
});

describe("delivery", () => {
  it("retries with backoff after each failure with the same webhook-id, then marks it delivered; each attempt is logged", async () => {
    const inbox = unique("backoff");
    const e = await endpoint(`${receiver()}/fail/3/${inbox}`, ["entitlement.changed"]);
    const t = Date.now();
    await setEntitlementState(svc(t), state(unique("user_backoff")), TEST_ACTOR);
    const [d] = await deliveriesOf(e.id);
    let now = t;
    for (let failure = 1; failure <= 3; failure++) {
      await deliverDue(svc(now));
      const row = (await deliveriesOf(e.id))[0]!;
      expect(row.status).toBe("pending");
      expect(row.nextAttemptAt).toBe(now + DELIVERY_POLICY.delaysMs[failure - 1]!);
      // Not before its time.
      await deliverDue(svc(row.nextAttemptAt! - 1));
      expect(await received(inbox)).toHaveLength(failure);
      now = row.nextAttemptAt!;
    }
    await deliverDue(svc(now));
    const done = (await deliveriesOf(e.id))[0]!;
    expect(done.status).toBe("delivered");
    const got = await received(inbox);
    expect(got.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(got.map((r) => r.headers["webhook-id"]))).toEqual(new Set([d!.eventId]));
    const log = await db().select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, d!.id)).orderBy(webhookAttempts.id).all();
    expect(log.map((a) => a.status)).toEqual([500, 500, 500, 200]);
    expect(log[0]!.responseExcerpt).toBe("stand-in failure");

    const listed = (await (await call("GET", `/v1/webhook-endpoints/${e.id}/deliveries`, { key: e.admin })).json()) as {
      data: { id: string; status: string; event_id: string; attempts: { status_code: number }[] }[];
    };
    expect(listed.data[0]).toMatchObject({ id: d!.id, status: "delivered", event_id: d!.eventId });
    expect(listed.data[0]!.attempts.map((a) => a.status_code)).toEqual([500, 500, 500, 200]);
  });

  it("parks a delivery that fails for three days, disables the endpoint with an email to the admin, and both are alerted", async () => {
    const inbox = unique("down");
    const e = await endpoint(`${receiver()}/fail/100000/${inbox}`, ["entitlement.changed"]);
    const t = Date.now();
    await setEntitlementState(svc(t), state(unique("user_down")), TEST_ACTOR);
    let now = t;
    for (let i = 0; i < 40; i++) {
      await deliverDue(svc(now));
      const row = (await deliveriesOf(e.id))[0]!;
      if (row.status !== "pending") break;
      now = row.nextAttemptAt!;
    }
    const row = (await deliveriesOf(e.id))[0]!;
    expect(row.status).toBe("parked");
    const attempts = await db().select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, row.id)).all();
    // Every attempt inside the window, the last one within a backoff step of its end.
    expect(Math.max(...attempts.map((a) => a.attemptedAt)) - t).toBeLessThanOrEqual(DELIVERY_POLICY.windowMs);
    expect(Math.max(...attempts.map((a) => a.attemptedAt)) - t).toBeGreaterThan(DELIVERY_POLICY.windowMs - 10 * 3_600_000);
    const ep = await db().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, e.id)).get();
    expect(ep!.enabled).toBe(false);
    expect(ep!.disabledReason).toMatch(/every delivery failed/);
    const mail = await db()
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.idempotencyKey, `${e.id}:disabled:${ep!.failingSince}`))
      .get();
    expect(mail).toMatchObject({ to: "ops@example.com", template: "webhook_endpoint_disabled" });
    const found = await detectConditions(svc(now));
    expect(found.find((f) => f.condition === "webhook_endpoint_disabled" && f.subject === e.id)).toBeDefined();
    expect(found.find((f) => f.condition === "webhook_deliveries_parked")?.details).toMatchObject({ deliveries: expect.arrayContaining([expect.objectContaining({ id: row.id })]) });
  });

  it("raises no disabled-endpoint alert for an endpoint an admin disabled while it was failing", async () => {
    const e = await endpoint(`${receiver()}/fail/100000/${unique("admin_off")}`, ["entitlement.changed"]);
    const t = Date.now();
    await setEntitlementState(svc(t), state(unique("user_admin_off")), TEST_ACTOR);
    await deliverDue(svc(t));
    expect((await db().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, e.id)).get())!.failingSince).not.toBeNull();
    const res = await call("PATCH", `/v1/webhook-endpoints/${e.id}`, { key: e.admin, body: { enabled: false } });
    expect(res.status, await res.clone().text()).toBe(200);
    const found = await detectConditions(svc(t));
    expect(found.find((f) => f.condition === "webhook_endpoint_disabled" && f.subject === e.id)).toBeUndefined();
  });

  it("keeps a user's events in order: a later one waits while an earlier one to the same endpoint is pending", async () => {
    const inbox = unique("order");
    const e = await endpoint(`${receiver()}/fail/1/${inbox}`, ["entitlement.changed"]);
    const userId = unique("user_order");
    const t = Date.now();
    await setEntitlementState(svc(t), state(userId), TEST_ACTOR);
    await setEntitlementState(svc(t + 1), state(userId, { tier: "mobile" }), TEST_ACTOR);
    await deliverDue(svc(t + 2));
    const [first, second] = await deliveriesOf(e.id);
    expect(first!.status).toBe("pending");
    expect(second!.status).toBe("pending");
    expect(second!.attempts).toBe(0);
    // Asked for on its own (as a retry run does), the later one is still refused by its claim.
    expect(await deliverDue(svc(t + 3), 10, [second!.id])).toMatchObject({ delivered: 0, skipped: 1 });
    expect(await received(inbox)).toHaveLength(1);
    await deliverDue(svc(first!.nextAttemptAt!));
    const got = await received(inbox);
    expect(got.map((r) => r.headers["webhook-id"])).toEqual([first!.eventId, first!.eventId, second!.eventId]);
    expect((await deliveriesOf(e.id)).map((d) => d.status)).toEqual(["delivered", "delivered"]);
  });

  it("sends a due delivery once when two isolates on separate D1 handles deliver at the same time", async () => {
    const inbox = unique("race");
    const e = await endpoint(`${receiver()}/ok/${inbox}`, ["entitlement.changed"]);
    const t = Date.now();
    for (let i = 0; i < 5; i++) await setEntitlementState(svc(t), state(unique("user_race")), TEST_ACTOR);
    const [a, b] = await Promise.all([deliverDue(svc(t + 1)), deliverDue(svc(t + 1, env.DB_RACE))]);
    expect(a.delivered + b.delivered).toBe(5);
    const got = await received(inbox);
    expect(got).toHaveLength(5);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(5);
    const ids = (await deliveriesOf(e.id)).map((d) => d.id);
    expect(await db().select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids)).all()).toHaveLength(5);
  });

  it("retries one delivery and replays a range with the events' original webhook-ids", async () => {
    const inbox = unique("replay");
    const e = await endpoint(`${receiver()}/ok/${inbox}`, ["entitlement.changed"]);
    // Long ago, so no other test's event falls in the range replayed.
    const t = Date.UTC(2021, 0, 1) + Math.floor(Math.random() * 1e9);
    const users = [unique("user_replay"), unique("user_replay"), unique("user_replay")];
    await setEntitlementState(svc(t - 3000), state(users[0]!), TEST_ACTOR);
    await setEntitlementState(svc(t - 2000), state(users[1]!), TEST_ACTOR);
    await setEntitlementState(svc(t - 1000), state(users[2]!), TEST_ACTOR);
    await deliverDue(svc(t));
    const first = await received(inbox);
    expect(first).toHaveLength(3);
    const [d0] = await deliveriesOf(e.id);

    const retried = await call("POST", `/v1/webhook-endpoints/${e.id}/deliveries/${d0!.id}/retry`, { key: e.admin });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ id: d0!.id, status: "delivered", event_id: d0!.eventId });
    expect((await received(inbox)).at(-1)!.headers["webhook-id"]).toBe(d0!.eventId);

    const replay = await call("POST", `/v1/webhook-endpoints/${e.id}/replay`, { key: e.admin, body: { from: new Date(t - 2500).toISOString(), to: new Date(t - 500).toISOString() } });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ replayed: 2 });
    await deliverDue(svc(Date.now()));
    const all = await received(inbox);
    const replayed = all.slice(4).map((r) => r.headers["webhook-id"]);
    const [, d1, d2] = await deliveriesOf(e.id);
    expect(replayed.sort()).toEqual([d1!.eventId, d2!.eventId].sort());
    expect(all.slice(4).map((r) => r.body)).toEqual(expect.arrayContaining(first.slice(1).map((r) => r.body)));
  });
});

describe("the outbox's deliveries", () => {
  it("are made for each enabled endpoint only", async () => {
    const on = await endpoint(`${receiver()}/ok/${unique("on")}`, ["entitlement.changed"]);
    const off = await endpoint(`${receiver()}/ok/${unique("off")}`, ["entitlement.changed"]);
    await call("PATCH", `/v1/webhook-endpoints/${off.id}`, { key: off.admin, body: { enabled: false } });
    await setEntitlementState(svc(), state(unique("user_enabled")), TEST_ACTOR);
    expect(await deliveriesOf(on.id)).toHaveLength(1);
    expect(
      await db()
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.endpointId, off.id)))
        .all(),
    ).toHaveLength(0);
  });
});

describe("the events of the mirror and of dunning", () => {
  const eventsOf = async (userId: string) =>
    (await db().select().from(outboundEvents).where(eq(outboundEvents.userId, userId)).orderBy(outboundEvents.seq).all()).map(
      (e) => JSON.parse(e.body) as { type: string; timestamp: string; data: Record<string, unknown> },
    );

  it("reports a subscription, its paid and failed invoices, a dunning stage, the recovery and the cancellation, each once, in the shapes of the API", async () => {
    const { s, kase, at, ids, seen, declining, userId, sub } = await failedRenewal();
    const early = await eventsOf(userId);
    expect(early.filter((e) => e.type === "subscription.created")).toHaveLength(1);
    expect(early.find((e) => e.type === "subscription.created")!.data).toMatchObject({
      user_id: userId,
      subscription: { user_id: userId, subscription_id: sub.id, tier: "local", billing_cycle: "monthly" },
    });
    expect(early.find((e) => e.type === "invoice.paid")!.data).toMatchObject({ user_id: userId, invoice: { status: "paid", currency: "usd" } });
    const failed = early.filter((e) => e.type === "invoice.payment_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({ user_id: userId, invoice: { id: kase.invoiceId } });

    // Day 1 and day 3: the retries decline again, and the first stage is reached.
    await recoverPaymentMethod(declining.id, { after_attempts: 3 });
    await at(1.1);
    await dunningTick(svc());
    await at(3.1);
    await dunningTick(svc());
    await deliverAll(ids, seen);
    const staged = (await eventsOf(userId)).filter((e) => e.type === "dunning.stage_reached");
    expect(staged.map((e) => e.data)).toEqual([{ user_id: userId, invoice_id: kase.invoiceId, stage: "dunning_soft", day: 3 }]);

    // A later retry is paid: recovered once, whether the tick or the sync closes the case.
    for (let day = 4.1; day < 14; day++) {
      await at(day);
      await dunningTick(svc());
      await deliverAll(ids, seen);
      if ((await db().select().from(dunningCases).where(eq(dunningCases.id, kase.id)).get())?.status === "recovered") break;
    }
    await dunningTick(svc());
    const recovered = (await eventsOf(userId)).filter((e) => e.type === "dunning.recovered");
    expect(recovered.map((e) => e.data)).toEqual([{ user_id: userId, invoice_id: kase.invoiceId }]);

    await s.subscriptions.cancel(sub.id);
    await deliverAll(ids, seen);
    const all = await eventsOf(userId);
    expect(all.filter((e) => e.type === "subscription.canceled")).toHaveLength(1);
    expect(all.find((e) => e.type === "subscription.canceled")!.data).toMatchObject({ subscription: { status: "canceled" } });
    expect(all.filter((e) => e.type === "invoice.payment_failed").length).toBeGreaterThanOrEqual(2);
    // Every entitlement change of the story, with its before.
    const ent = all.filter((e) => e.type === "entitlement.changed").map((e) => e.data as { before: { status: string } | null; after: { status: string } });
    expect(ent.map((e) => e.after.status)).toEqual(expect.arrayContaining(["active", "past_due", "canceled"]));
    for (let i = 1; i < ent.length; i++) expect(ent[i]!.before).toEqual(ent[i - 1]!.after);
  }, 90_000);
});

describe("the events of refunds", () => {
  const refundEventsOf = async (userId: string) =>
    (await db().select().from(outboundEvents).where(eq(outboundEvents.userId, userId)).orderBy(outboundEvents.seq).all())
      .map((e) => ({ id: e.id, ...(JSON.parse(e.body) as { type: string; timestamp: string; data: Record<string, unknown> }) }))
      .filter((e) => e.type.startsWith("refund."));

  it("writes one refund.created in the batch that mirrors a dashboard refund, in GET /v1/refunds' shape, delivered only to endpoints subscribed to it", async () => {
    const wanted = await endpoint(`${receiver()}/ok/${unique("refund")}`, ["refund.created"]);
    const other = await endpoint(`${receiver()}/ok/${unique("refund_other")}`, ["invoice.paid", "refund.updated"]);
    const { userId, customer, sub } = await subscriber();
    const s = stripe();
    const invoice = await s.invoices.retrieve(String(sub.latest_invoice));
    const payment = (await s.invoicePayments.list({ invoice: invoice.id })).data[0]!;
    const charge = String((await s.paymentIntents.retrieve(String(payment.payment.payment_intent))).latest_charge);
    const made = await s.refunds.create({ charge, amount: 500, reason: "duplicate" });

    // One Stripe event at a time: the refund's row and its event appear in the same sync, never one without the other.
    const mirrored = () => db().select().from(refunds).where(eq(refunds.id, made.id)).all();
    for (const e of await eventsFor([customer.id, sub.id, invoice.id, charge, made.id])) {
      await deliver(e);
      expect(await settled(e.id)).toBe("processed");
      expect((await refundEventsOf(userId)).length, e.type).toBe((await mirrored()).length);
    }
    const events = await refundEventsOf(userId);
    expect(events.map((e) => e.type)).toEqual(["refund.created"]);
    const analyst = await makeKey("analyst");
    const listed = (await (await call("GET", `/v1/refunds?user_id=${userId}`, { key: analyst.key })).json()) as { data: unknown[] };
    expect(listed.data).toHaveLength(1);
    expect(events[0]!.data).toEqual({ user_id: userId, refund: listed.data[0] });
    expect(events[0]!.data).toMatchObject({ refund: { id: made.id, amount: 500, currency: "usd", status: "succeeded", reason: "duplicate", invoice_id: invoice.id } });

    const ofUser = async (endpointId: string) => (await deliveriesOf(endpointId)).filter((d) => d.userId === userId).map((d) => d.eventId);
    expect(await ofUser(wanted.id)).toEqual([events[0]!.id]);
    expect(await ofUser(other.id)).not.toContain(events[0]!.id);
  }, 60_000);

  it("writes refund.updated when a mirrored refund's status changes, and nothing when only other fields do", async () => {
    const userId = unique("user_refund");
    const at = Date.UTC(2026, 11, 7, 9);
    const pending: typeof refunds.$inferSelect = {
      id: unique("re"),
      chargeId: "ch_x",
      invoiceId: "in_x",
      subscriptionId: "sub_x",
      creditNoteId: null,
      customerId: "cus_x",
      userId,
      amount: 900,
      currency: "usd",
      status: "pending",
      reason: "service_issue",
      createdAt: at,
      syncedAt: at,
    };
    const fetched = { customers: new Map(), subscriptions: new Map(), invoices: new Map(), syncedAt: new Map(), deletedInvoices: new Set<string>(), charges: new Map(), disputes: new Map() };
    const follow = async (change: { before: typeof pending; after: typeof pending }) => {
      const statements = await outboundEventsOfSync(svc(), { at, fetched, subs: new Map(), attempts: [], userByCustomer: new Map(), changed: { subscriptions: [], invoices: [], refunds: [change] } });
      if (statements.length > 0) await db().batch(statements as unknown as Parameters<ReturnType<typeof db>["batch"]>[0]);
    };
    await follow({ before: pending, after: { ...pending, syncedAt: at + 1, creditNoteId: "cn_x" } });
    expect(await refundEventsOf(userId)).toEqual([]);
    await follow({ before: pending, after: { ...pending, status: "succeeded", syncedAt: at + 2 } });
    const events = await refundEventsOf(userId);
    expect(events.map((e) => [e.type, e.timestamp])).toEqual([["refund.updated", "2026-12-07T09:00:00.000Z"]]);
    expect(events[0]!.data).toEqual({
      user_id: userId,
      refund: { id: pending.id, invoice_id: "in_x", amount: 900, currency: "usd", credit_note_id: null, status: "succeeded", reason: "service_issue", created_at: "2026-12-07T09:00:00.000Z" },
    });
  });
});

describe("the outbox's retention", () => {
  it("drops events over 30 days old with their delivered deliveries and attempts, and keeps one whose delivery is parked or pending", async () => {
    const inbox = unique("prune");
    const e = await endpoint(`${receiver()}/ok/${inbox}`, ["entitlement.changed"]);
    const t = Date.UTC(2020, 5, 1) + Math.floor(Math.random() * 1e9);
    const [done, parked, pending] = [unique("user_prune"), unique("user_prune"), unique("user_prune")];
    for (const u of [done, parked, pending]) await setEntitlementState(svc(t), state(u), TEST_ACTOR);
    await db()
      .update(webhookDeliveries)
      .set({ status: "parked" })
      .where(and(eq(webhookDeliveries.endpointId, e.id), eq(webhookDeliveries.userId, parked)));
    await db()
      .update(webhookDeliveries)
      .set({ nextAttemptAt: t + 40 * DAY }) // still not due when the cron prunes, 30 days on
      .where(and(eq(webhookDeliveries.endpointId, e.id), eq(webhookDeliveries.userId, pending)));
    await deliverDue(svc(t + 1));
    const rows = await deliveriesOf(e.id);
    expect(rows.map((r) => r.status).sort()).toEqual(["delivered", "parked", "pending"]);
    const delivered = rows.find((r) => r.status === "delivered")!;

    await pruneOutbox(svc(t + OUTBOX_RETENTION_MS - 1));
    expect(
      await db()
        .select()
        .from(outboundEvents)
        .where(inArray(outboundEvents.userId, [done, parked, pending]))
        .all(),
    ).toHaveLength(3);
    // The quarter-hour cron prunes it: run as Cloudflare runs it, scheduled at the retention's end.
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: CRONS.dunning, scheduledTime: t + OUTBOX_RETENTION_MS }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(
      (
        await db()
          .select()
          .from(outboundEvents)
          .where(inArray(outboundEvents.userId, [done, parked, pending]))
          .all()
      )
        .map((r) => r.userId)
        .sort(),
    ).toEqual([parked, pending].sort());
    expect((await deliveriesOf(e.id)).map((r) => r.status).sort()).toEqual(["parked", "pending"]);
    expect(await db().select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, delivered.id)).all()).toEqual([]);
  });
});
