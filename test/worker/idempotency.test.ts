/**
 * Idempotency-Key on the API's writes: a client that retries after a timeout gets the first
 * answer again instead of acting twice. Through the worker in workerd and the Stripe emulator.
 */
import { createExecutionContext, env, SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../worker/src/app";
import type { CancelResult, OfferView } from "../../worker/src/subscriptions/cancel";
import { fixedClock } from "../../worker/src/clock";
import { cancellationRequests, idempotencyKeys, retentionOffers } from "../../worker/src/db/schema";
import { isDomainError } from "../../worker/src/errors";
import { claimIdempotencyKey, type IdempotentRequest } from "../../worker/src/idempotency/claim";
import { completeIdempotencyKey } from "../../worker/src/idempotency/complete";
import { ABANDONED_CLAIM_MS, IDEMPOTENCY_TTL_MS } from "../../worker/src/idempotency/policy";
import { pruneIdempotencyKeys } from "../../worker/src/idempotency/prune";
import { requestHash } from "../../worker/src/idempotency/request-hash";
import { BASE, call, freshIp, makeKey, svc } from "./helpers";
import { expectProblem, makeKeys, paying, useDecliningCard } from "./lifecycle-helpers";
import { db, stripe, testClock } from "./stripe-helpers";

let service: { key: string; id: string };
let other: { key: string; id: string };
let n = 0;
const newKey = () => `idem-${Date.now().toString(36)}-${++n}`;
const withKey = (path: string, body: unknown, idempotencyKey: string, key = service.key) => call("POST", path, { key, body, headers: { "idempotency-key": idempotencyKey } });

/** A first checkout for a new user on a test clock of their own. */
async function checkoutBody(name: string) {
  const clock = await testClock();
  const userId = `user_idem_${name}_${Date.now().toString(36)}_${++n}`;
  return { user_id: userId, email: `${userId}@example.test`, tier: "local", test_clock: clock.id };
}
const keyRow = (apiKeyId: string, key: string) =>
  db()
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)))
    .get();

beforeAll(async () => {
  await makeKeys();
  service = await makeKey("service");
  other = await makeKey("service");
});

describe("Idempotency-Key", () => {
  it("a cancel retried with the same key gets the retention offer again, marked replayed, and neither declines the offer nor cancels", async () => {
    const s = await paying("mobile");
    const key = newKey();
    const first = await withKey(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }, key);
    expect(first.status, await first.clone().text()).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const firstBody = await first.text();
    const offer = (JSON.parse(firstBody) as CancelResult & { offer: OfferView }).offer;

    const retry = await withKey(`/v1/subscriptions/${s.userId}/cancel`, { reason: "too_expensive" }, key);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.headers.get("content-type")).toBe(first.headers.get("content-type"));
    expect(await retry.text()).toBe(firstBody);

    expect((await stripe().subscriptions.retrieve(s.sub)).cancel_at_period_end).toBe(false);
    expect(await db().select().from(cancellationRequests).where(eq(cancellationRequests.userId, s.userId)).all()).toHaveLength(1);
    expect((await db().select().from(retentionOffers).where(eq(retentionOffers.id, offer.id)).get())?.status).toBe("open");

    // Without a key the second cancel is a new request: the user declined the offer and cancels.
    const again = await call("POST", `/v1/subscriptions/${s.userId}/cancel`, { key: service.key, body: { reason: "too_expensive" } });
    expect(await again.json()).toMatchObject({ canceled: true });
  });

  it("a checkout retried with the same key answers with the same session and Stripe holds only that one", async () => {
    const body = await checkoutBody("replay");
    const key = newKey();
    const first = await withKey("/v1/checkout", body, key);
    expect(first.status, await first.clone().text()).toBe(201);
    const second = await withKey("/v1/checkout", body, key);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    // The route's own headers come back with the answer: a Checkout URL is not to be cached.
    expect(first.headers.get("cache-control")).toBeTruthy();
    expect(second.headers.get("cache-control")).toBe(first.headers.get("cache-control"));
    const [a, b] = [await first.json<{ session_id: string }>(), await second.json<{ session_id: string }>()];
    expect(b.session_id).toBe(a.session_id);
    const customer = (await stripe().checkout.sessions.retrieve(a.session_id)).customer as string;
    expect((await stripe().checkout.sessions.list({ customer, limit: 10 })).data.map((x) => x.id)).toEqual([a.session_id]);
  });

  it("records the answer even when the client hangs up before it arrives, so the retry gets it instead of waiting", async () => {
    const body = await checkoutBody("hangup");
    const key = newKey();
    const controller = new AbortController();
    const sent = SELF.fetch(`${BASE}/v1/checkout`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${service.key}`, "content-type": "application/json", "idempotency-key": key, "cf-connecting-ip": freshIp() },
      body: JSON.stringify(body),
    });
    // Hang up once the worker has claimed the key, while it is still talking to Stripe.
    await vi.waitFor(async () => expect(await keyRow(service.id, key)).toBeDefined(), { timeout: 5_000, interval: 2 });
    controller.abort();
    await sent.catch(() => undefined);
    await vi.waitFor(async () => expect((await keyRow(service.id, key))?.state).toBe("done"), { timeout: 10_000, interval: 50 });
    const retry = await withKey("/v1/checkout", body, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });

  it("a retry that runs again (its first answer was a 5xx, so not kept) gets the Checkout Session the first run made at Stripe, not a second one", async () => {
    const body = await checkoutBody("rerun");
    const key = newKey();
    const first = await withKey("/v1/checkout", body, key);
    expect(first.status).toBe(201);
    // As the middleware does after a 5xx: the key freed, the retry runs the route again.
    await db().delete(idempotencyKeys).where(eq(idempotencyKeys.key, key));
    const rerun = await withKey("/v1/checkout", body, key);
    expect(rerun.status).toBe(201);
    expect(rerun.headers.get("idempotent-replayed")).toBeNull();
    const [a, b] = [await first.json<{ session_id: string }>(), await rerun.json<{ session_id: string }>()];
    expect(b.session_id).toBe(a.session_id);
    // Another key is another request: a new session.
    const other = await withKey("/v1/checkout", body, newKey());
    expect((await other.json<{ session_id: string }>()).session_id).not.toBe(a.session_id);
  });

  it("the same key with another body is a 422 naming the header, and runs nothing", async () => {
    const body = await checkoutBody("reused");
    const key = newKey();
    const first = await withKey("/v1/checkout", body, key);
    expect(first.status).toBe(201);
    const customer = (await stripe().checkout.sessions.retrieve((await first.json<{ session_id: string }>()).session_id)).customer as string;
    const problem = await expectProblem(await withKey("/v1/checkout", { ...body, tier: "mobile" }, key), 422, "idempotency_key_reused", "header.idempotency-key");
    expect(problem).toMatchObject({ first_request: { method: "POST", path: "/v1/checkout" } });
    // On another route too: a key names one request, not one body per route.
    await expectProblem(await withKey(`/v1/subscriptions/${body.user_id}/pause`, {}, key), 422, "idempotency_key_reused", "header.idempotency-key");
    expect((await stripe().checkout.sessions.list({ customer, limit: 10 })).data).toHaveLength(1);
  });

  it("keys belong to the API key that sent them: another caller's same Idempotency-Key is its own request", async () => {
    const key = newKey();
    const mine = await withKey("/v1/checkout", await checkoutBody("mine"), key);
    const theirs = await withKey("/v1/checkout", await checkoutBody("theirs"), key, other.key);
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    expect((await theirs.json<{ session_id: string }>()).session_id).not.toBe((await mine.json<{ session_id: string }>()).session_id);
  });

  it("while the first request runs a retry is a 409 with Retry-After; once it has answered the retry gets that answer", async () => {
    const path = "/v1/subscriptions/user_idem_running/resume";
    const key = newKey();
    const request: IdempotentRequest = { apiKeyId: service.id, key, method: "POST", path, requestHash: await requestHash("POST", path, "{}") };
    // The first request, as another isolate on its own D1 handle holds it mid-flight.
    const claim = await claimIdempotencyKey(svc(undefined, env.DB_RACE), request);
    expect(claim.kind).toBe("claimed");
    const running = await withKey(path, {}, key);
    await expectProblem(running, 409, "idempotency_key_in_use", "header.idempotency-key");
    expect(running.headers.get("retry-after")).toBe("1");

    await completeIdempotencyKey(svc(undefined, env.DB_RACE), request, (claim as { token: string }).token, { status: 200, contentType: "application/json", headers: {}, body: '{"resumed":true}' });
    const after = await withKey(path, {}, key);
    expect(after.status).toBe(200);
    expect(after.headers.get("idempotent-replayed")).toBe("true");
    expect(await after.json()).toEqual({ resumed: true });
  });

  it("two requests racing for one key on separate D1 handles: exactly one runs", async () => {
    const path = "/v1/subscriptions/user_idem_race/pause";
    const request: IdempotentRequest = { apiKeyId: service.id, key: newKey(), method: "POST", path, requestHash: await requestHash("POST", path, "{}") };
    const outcomes = await Promise.allSettled([claimIdempotencyKey(svc(undefined, env.DB), request), claimIdempotencyKey(svc(undefined, env.DB_RACE), request)]);
    const claimed = outcomes.filter((o) => o.status === "fulfilled" && o.value.kind === "claimed");
    const refused = outcomes.filter((o) => o.status === "rejected" && isDomainError(o.reason, "idempotency_key_in_use"));
    expect([claimed.length, refused.length]).toEqual([1, 1]);
  });

  it("a 5xx is not kept: the retry with the same key runs the request again and its answer is kept", async () => {
    const admin = await makeKey("admin");
    const key = newKey();
    const init = {
      method: "POST",
      headers: { authorization: `Bearer ${admin.key}`, "content-type": "application/json", "cf-connecting-ip": "192.0.2.91", "idempotency-key": key },
      body: JSON.stringify({ restart: true, pages: 1 }),
    };
    // Stripe pointed at a port nothing listens on: a 502.
    const failed = await createApp().request("http://billing.test/v1/admin/resync", init, { ...env, STRIPE_API_BASE: "http://127.0.0.1:9" }, createExecutionContext());
    expect(failed.status).toBe(502);
    expect(await keyRow(admin.id, key)).toBeUndefined();

    const retried = await createApp().request("http://billing.test/v1/admin/resync", init, env, createExecutionContext());
    expect(retried.status, await retried.clone().text()).toBeLessThan(300);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    const replayed = await createApp().request("http://billing.test/v1/admin/resync", init, env, createExecutionContext());
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(await replayed.text()).toBe(await retried.text());
  }, 60_000);

  it("a malformed key is a 400 naming the header, and nothing is claimed or run", async () => {
    for (const bad of ["has space", "x".repeat(256), "tab\there", "del\x7f"]) {
      await expectProblem(await withKey("/v1/subscriptions/user_idem_bad/resume", {}, bad), 400, "validation_failed", "header.idempotency-key");
    }
    expect(await db().select().from(idempotencyKeys).where(eq(idempotencyKeys.path, "/v1/subscriptions/user_idem_bad/resume")).all()).toEqual([]);
  });

  it("a refusal changed nothing, so it frees the key: the same key with the body fixed runs", async () => {
    const s = await paying("local");
    const key = newKey();
    await expectProblem(await withKey(`/v1/subscriptions/${s.userId}/cancel`, { reason: "not_a_reason" }, key), 400, "validation_failed", "body.reason");
    const fixed = await withKey(`/v1/subscriptions/${s.userId}/cancel`, { reason: "unused" }, key);
    expect(fixed.status, await fixed.clone().text()).toBe(200);
    expect(fixed.headers.get("idempotent-replayed")).toBeNull();
    expect(await fixed.json()).toMatchObject({ canceled: false, offer: { kind: "discount" } });
  });

  it("a declined charge is kept: the retry gets the same 402 and the card is not tried again", async () => {
    const s = await paying("local");
    await s.clock.advanceDays(5);
    await useDecliningCard(s);
    await s.sync();
    const key = newKey();
    const first = await withKey(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }, key);
    const problem = await expectProblem(first, 402, "payment_failed", "path.user_id");
    const invoices = (await stripe().invoices.list({ subscription: s.sub, limit: 100 })).data.length;
    const retry = await withKey(`/v1/subscriptions/${s.userId}/change`, { tier: "mobile" }, key);
    expect(retry.status).toBe(402);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual(problem);
    expect((await stripe().invoices.list({ subscription: s.sub, limit: 100 })).data.length).toBe(invoices);
  });

  it("a JSON body is compared byte for byte: the same object spaced otherwise is another request", async () => {
    const key = newKey();
    const path = "/v1/subscriptions/user_idem_bytes/resume";
    // A 404 frees the key, so claim it as a running request would, then send other bytes.
    await claimIdempotencyKey(svc(), { apiKeyId: service.id, key, method: "POST", path, requestHash: await requestHash("POST", path, '{"a":1}') });
    await expectProblem(
      await call("POST", path, { key: service.key, rawBody: '{ "a": 1 }', headers: { "idempotency-key": key, "content-type": "application/json" } }),
      422,
      "idempotency_key_reused",
      "header.idempotency-key",
    );
  });

  it("a claim left started by a request that stopped without an answer is never run again: after five minutes retries are told the outcome is unknown", async () => {
    const t0 = 1_900_000_000_000;
    const path = "/v1/subscriptions/user_idem_dead/cancel";
    const request: IdempotentRequest = { apiKeyId: service.id, key: newKey(), method: "POST", path, requestHash: await requestHash("POST", path, '{"reason":"unused"}') };
    expect((await claimIdempotencyKey(svc(t0), request)).kind).toBe("claimed");
    await expect(claimIdempotencyKey(svc(t0 + ABANDONED_CLAIM_MS - 1), request)).rejects.toMatchObject({ code: "idempotency_key_in_use" });
    await expect(claimIdempotencyKey(svc(t0 + ABANDONED_CLAIM_MS), request)).rejects.toMatchObject({ code: "idempotency_outcome_unknown" });
    const another = { ...request, requestHash: await requestHash("POST", path, '{"reason":"other"}') };
    await expect(claimIdempotencyKey(svc(t0 + ABANDONED_CLAIM_MS), another)).rejects.toMatchObject({ code: "idempotency_key_reused" });
  });

  it("a key is remembered for a day: then it is free for any request, and the prune deletes it", async () => {
    const t0 = 1_900_000_000_000;
    const path = "/v1/subscriptions/user_idem_old/cancel";
    const request: IdempotentRequest = { apiKeyId: other.id, key: newKey(), method: "POST", path, requestHash: await requestHash("POST", path, "{}") };
    const claim = await claimIdempotencyKey(svc(t0), request);
    await completeIdempotencyKey(svc(t0), request, (claim as { token: string }).token, { status: 200, contentType: "application/json", headers: {}, body: "{}" });
    expect((await claimIdempotencyKey(svc(t0 + IDEMPOTENCY_TTL_MS - 1), request)).kind).toBe("replay");
    const later = { ...request, requestHash: await requestHash("POST", path, '{"reason":"unused"}') };
    expect((await claimIdempotencyKey(svc(t0 + IDEMPOTENCY_TTL_MS), later)).kind).toBe("claimed");

    const row = () => keyRow(other.id, request.key);
    await pruneIdempotencyKeys({ db: db(), clock: fixedClock(t0 + 2 * IDEMPOTENCY_TTL_MS - 1) });
    expect(await row()).toBeDefined();
    expect(await pruneIdempotencyKeys({ db: db(), clock: fixedClock(t0 + 2 * IDEMPOTENCY_TTL_MS) })).toBeGreaterThanOrEqual(1);
    expect(await row()).toBeUndefined();
  });

  it("tells other bodies, paths and methods apart", async () => {
    const h = (m: string, p: string, b: string) => requestHash(m, p, b);
    expect(await h("post", "/a", '{"a":1}')).toBe(await h("POST", "/a", '{"a":1}'));
    expect(
      new Set([
        await h("POST", "/a", '{"a":1}'),
        await h("POST", "/a", '{"a":2}'),
        await h("POST", "/b", '{"a":1}'),
        await h("PUT", "/a", '{"a":1}'),
        await h("POST", "/a", ""),
        await h("POST", "/a", '{"a":1.0}'),
      ]).size,
    ).toBe(6);
  });
});
