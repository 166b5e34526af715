/**
 * The changes feed in the token manager: a change the worker commits reaches decisions within
 * one poll interval, with one feed request per interval whatever the number of cached users;
 * when the feed is down, decisions continue from cached tokens and the staleness is reported.
 *
 * Timers: `setTimeout` is faked where the test counts polls, so "one interval" is exact; the HTTP
 * traffic to the fake worker stays real (over node:http, see `nodeHttpFetch`), and the SDK's clock
 * is the fake worker's `Clock`.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { can, WorkerRejected, WorkerUnavailable } from "../src/index.js";
import type { Freshness, TokenManager } from "../src/manager.js";
import { Clock, nodeHttpFetch, sdkFor, startWorker, type FakeWorker } from "./helpers.js";

const INTERVAL = 1_000;

let w: FakeWorker;
const open: TokenManager[] = [];
function sdk(extra: Parameters<typeof sdkFor>[1] = {}) {
  const e = sdkFor(w, { changes: { intervalMs: INTERVAL }, fetch: nodeHttpFetch, ...extra });
  open.push(e);
  return e;
}

beforeEach(async () => {
  w = await startWorker(new Clock());
});
afterEach(async () => {
  vi.useRealTimers();
  for (const e of open.splice(0)) e.close();
  await w.close();
});

/** Fakes setTimeout only: the fake worker's sockets and the SDK's request timeouts stay real. */
function fakeTimers() {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
}

/**
 * Lets one poll interval pass: the poll's timer fires, its request reaches the fake worker and
 * its answer is applied (the next poll is then scheduled). Returns the feed requests it made.
 */
async function oneInterval(e: TokenManager): Promise<number> {
  const before = w.hits.changes;
  const attempts = e.freshness().requests;
  w.clock.advance(INTERVAL / 1000);
  await vi.advanceTimersByTimeAsync(INTERVAL);
  await vi.waitFor(() => {
    expect(e.freshness().requests).toBeGreaterThan(attempts);
    expect(vi.getTimerCount()).toBe(1); // answered and the next poll scheduled
  });
  return w.hits.changes - before;
}

async function cacheUsers(e: TokenManager, n: number, prefix: string) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
  for (const id of ids) w.users.set(id, { tier: "local", status: "active" });
  for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => e.forUser(id)));
  return ids;
}

describe("changes feed", () => {
  it("changes a cached decision within one poll interval of the change, with no token request before the change", async () => {
    fakeTimers();
    const e = sdk();
    w.users.set("u1", { tier: "local", status: "active" });
    expect((await e.check("u1", "job_search")).allowed).toBe(true);
    expect(w.hits.token).toBe(1);
    expect(await oneInterval(e)).toBe(1);
    expect(w.hits.token).toBe(1); // nothing changed: the token stays cached

    w.change("u1", { tier: "local", status: "canceled" });
    // Until the next poll the cached token answers (what it did until token expiry before).
    expect((await e.check("u1", "job_search")).allowed).toBe(true);
    expect(await oneInterval(e)).toBe(1);
    const after = await e.check("u1", "job_search");
    expect(after).toMatchObject({ allowed: false, reason: "canceled" });
    expect(w.hits.token).toBe(2);
  });

  it("reads the feed's head before the first token, so a change right after that token is not missed", async () => {
    fakeTimers();
    const e = sdk();
    w.change("u1", { tier: "mobile", status: "active" }); // before the app starts: not news
    await e.check("u1", "nationwide_search");
    expect(w.hits.changes).toBe(1); // the head, read before the token
    w.change("u1", { tier: "local", status: "active" });
    await oneInterval(e);
    expect(await e.check("u1", "nationwide_search")).toMatchObject({ allowed: false, reason: "not_in_tier" });
  });

  for (const users of [10, 10_000]) {
    it(`makes exactly one feed request per interval with ${users.toLocaleString("en-US")} cached users`, async () => {
      fakeTimers();
      const e = sdk();
      const ids = await cacheUsers(e, users, `n${users}`);
      const tokens = w.hits.token;
      expect(tokens).toBe(users);
      const perInterval: number[] = [];
      for (let i = 0; i < 5; i++) perInterval.push(await oneInterval(e));
      expect(perInterval).toEqual([1, 1, 1, 1, 1]);
      // Three users change: still one request; only their tokens are fetched again, on use.
      for (const id of ids.slice(0, 3)) w.change(id, { tier: "mobile", status: "active" });
      expect(await oneInterval(e)).toBe(1);
      expect(w.hits.token).toBe(tokens);
      for (const id of ids.slice(0, 5)) await e.check(id, "nationwide_search");
      expect(w.hits.token).toBe(tokens + 3);
      expect((await e.check(ids[0]!, "nationwide_search")).allowed).toBe(true);
    }, 60_000);
  }

  it("keeps deciding from cached tokens while the feed is down, reports the staleness once, and recovers", async () => {
    fakeTimers();
    const stale: Freshness[] = [];
    const e = sdk({ changes: { intervalMs: INTERVAL, onStale: (f) => stale.push(f) } });
    w.users.set("u1", { tier: "local", status: "active" });
    await e.check("u1", "job_search");
    await oneInterval(e);
    const lastGood = e.freshness().lastSuccessAt;
    expect(e.freshness()).toMatchObject({ enabled: true, stale: false, error: null });

    w.feedFailWith = 503;
    w.change("u1", { tier: "local", status: "suspended" });
    await oneInterval(e);
    await oneInterval(e);
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ stale: true, lastSuccessAt: lastGood });
    expect(stale[0]!.error).toBeInstanceOf(WorkerUnavailable);
    const f = e.freshness();
    expect(f).toMatchObject({ enabled: true, stale: true, lastSuccessAt: lastGood });
    expect(f.lastAttemptAt).toBeGreaterThan(lastGood!);
    // Today's behaviour: the cached token answers until it expires.
    const cached = await e.check("u1", "job_search");
    expect(cached).toMatchObject({ allowed: true, reason: "included", as_of: Math.floor(lastGood! / 1000) });
    expect(w.hits.token).toBe(1);

    w.feedFailWith = undefined;
    await oneInterval(e);
    expect(e.freshness()).toMatchObject({ stale: false, error: null });
    expect(await e.check("u1", "job_search")).toMatchObject({ allowed: false, reason: "suspended" });
    expect(stale).toHaveLength(1);
  });

  it("decides from tokens as before when the feed cannot be read from the start, then drops them once it can", async () => {
    fakeTimers();
    w.feedFailWith = 404; // e.g. a worker without the route
    const stale: Freshness[] = [];
    const e = sdk({ changes: { intervalMs: INTERVAL, onStale: (f) => stale.push(f) } });
    w.users.set("u1", { tier: "local", status: "active" });
    expect((await e.check("u1", "job_search")).allowed).toBe(true);
    expect(stale).toHaveLength(1);
    expect(stale[0]!.error).toBeInstanceOf(WorkerRejected);
    expect(e.freshness()).toMatchObject({ stale: true, lastSuccessAt: null });
    // Not covered by any cursor: its as_of is its own iat.
    expect((await e.check("u1", "job_search")).as_of).toBe(w.clock.s);

    w.feedFailWith = undefined;
    w.change("u1", { tier: null, status: "canceled" }); // before the cursor: the feed will never name it
    await oneInterval(e);
    expect(e.freshness().stale).toBe(false);
    expect(await e.check("u1", "job_search")).toMatchObject({ allowed: false, reason: "canceled" });
  });

  it("starts again from the head, trusting no cached token, when the worker refuses the cursor", async () => {
    fakeTimers();
    const e = sdk();
    w.change("u0", { tier: "local", status: "active" });
    w.users.set("u1", { tier: "local", status: "active" });
    await e.check("u1", "job_search");
    w.feed.length = 0; // a restored database: the SDK's cursor is now ahead of the feed
    w.users.set("u1", { tier: "mobile", status: "active" });
    await oneInterval(e); // 400 → the head is read at once
    await vi.waitFor(() => expect(e.freshness().stale).toBe(false));
    expect(await e.check("u1", "nationwide_search")).toMatchObject({ allowed: true });
    expect(w.hits.token).toBe(2);
  });

  it("fetches a token again when the feed named its user while it was on its way", async () => {
    const e = sdkFor(w, { changes: { intervalMs: 20 } });
    open.push(e);
    w.users.set("u1", { tier: "local", status: "active" });
    await e.check("u1", "job_search");
    e.invalidate("u1");
    w.tokenLagMs = 300; // signed now (active), delivered after the change below
    const pending = e.check("u1", "job_search");
    await vi.waitFor(() => expect(w.hits.token).toBe(2));
    w.change("u1", { tier: "local", status: "canceled" });
    await vi.waitFor(() => expect(w.hits.changes).toBeGreaterThan(2), { timeout: 2_000 });
    expect(await pending).toMatchObject({ allowed: false, reason: "canceled" });
    expect(w.hits.token).toBe(3);
  });

  it("stops polling on close(), and a process that never calls it still exits", async () => {
    fakeTimers();
    const e = sdk();
    w.users.set("u1", { tier: "local", status: "active" });
    await e.check("u1", "job_search");
    expect(vi.getTimerCount()).toBe(1);
    e.close();
    e.close();
    expect(vi.getTimerCount()).toBe(0);
    const hits = w.hits.changes;
    await vi.advanceTimersByTimeAsync(INTERVAL * 5);
    expect(w.hits.changes).toBe(hits);
    expect(e.freshness().enabled).toBe(false);
    expect((await e.check("u1", "job_search")).allowed).toBe(true);
    vi.useRealTimers();

    // A child process polling a feed it cannot reach, and never closing the SDK, exits by itself.
    const src = path.join(import.meta.dirname, "../src/manager.ts");
    const script = `
      import { createTokenManager } from ${JSON.stringify(src)};
      const e = createTokenManager({ baseUrl: "http://127.0.0.1:9", apiKey: "k", issuer: "i", audience: "a", changes: { intervalMs: 50 }, timeout: 200 });
      const d = await e.check("u1", "job_search");
      console.log(d.reason, e.freshness().stale);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: path.join(import.meta.dirname, ".."), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const kill = setTimeout(() => {
        child.kill();
        reject(new Error(`the process did not exit: ${out}`));
      }, 8_000);
      child.on("exit", (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    expect(code, out).toBe(0);
    expect(out.trim()).toBe("unavailable true");
  }, 20_000);
});

describe("as_of", () => {
  it("is the token's iat, then the last poll after the token that did not name the user, then the new token's iat", async () => {
    fakeTimers();
    const e = sdk();
    w.users.set("u1", { tier: "local", status: "active" });
    const t0 = w.clock.s;
    const first = await e.check("u1", "job_search");
    expect(first.as_of).toBe(t0);
    const claims = await e.forUser("u1");
    expect(can(claims, "job_search").as_of).toBe(claims.iat); // claims alone: their iat

    w.clock.advance(9); // oneInterval adds one more second
    await oneInterval(e);
    const polled = await e.check("u1", "job_search");
    expect(polled.as_of).toBe(t0 + 10);
    expect(polled).toMatchObject({ allowed: true, reason: "included" });
    // The same decision object until the next poll: nothing allocated per decision.
    expect(await e.check("u1", "job_search")).toBe(polled);
    expect((await e.evaluate("u1", "job_search")).decision).toBe(polled);

    w.clock.advance(4);
    w.change("u1", { tier: "mobile", status: "active" });
    await oneInterval(e);
    const refreshed = await e.check("u1", "nationwide_search");
    expect(refreshed).toMatchObject({ allowed: true, as_of: t0 + 15 }); // the new token's iat
    expect((await e.forUser("u1")).iat).toBe(t0 + 15);
  });

  it("is null when no token is available, and the token's iat without the feed", async () => {
    const off = sdkFor(w, { changes: false });
    w.users.set("u1", { tier: "local", status: "active" });
    expect((await off.check("u1", "job_search")).as_of).toBe(w.clock.s);
    expect(off.freshness()).toEqual({ enabled: false, stale: false, lastSuccessAt: null, lastAttemptAt: null, error: null, requests: 0 });
    expect(w.hits.changes).toBe(0);
    w.failWith = 503;
    expect(await sdkFor(w, { changes: false }).check("u2", "job_search")).toMatchObject({ reason: "unavailable", as_of: null });
  });

  it("refuses a poll interval that is not a number of milliseconds", () => {
    for (const intervalMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sdkFor(w, { changes: { intervalMs } }), String(intervalMs)).toThrow(/changes.intervalMs/);
    }
  });
});
