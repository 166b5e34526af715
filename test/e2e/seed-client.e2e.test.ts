/**
 * npm start's seed as a client of the worker's rate limits: the worker in workerd with real Rate
 * Limiting bindings, configured as `wrangler dev` runs it (ENVIRONMENT development, where a
 * client is its API key), with a limit small enough to reach in a few requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { laneClients, retryAfterMs, workerClient } from "../../scripts/demo/seed.ts";
import { startWorker, type WorkerHarness } from "../harness/worker.ts";

// Three requests per 10 s window per client: the smallest window the binding has.
const LIMIT = 3;
const WINDOW_MS = 10_000;

let worker: WorkerHarness;

beforeAll(async () => {
  worker = await startWorker({ bindings: { ENVIRONMENT: "development" }, rateLimits: { ip: LIMIT, period: 10 } });
});

afterAll(async () => {
  await worker?.dispose();
});

describe("the seed's client and the rate limit", () => {
  it("waits out a 429 as its Retry-After says, then gets its answer instead of refusing the step", async () => {
    // Another local client (the demo app, curl) using the same key spends the window.
    let limited = false;
    for (let i = 0; i < 2 * LIMIT + 1 && !limited; i++) {
      const res = await worker.request("/v1/entitlements/demo_limit", { key: worker.serviceKey });
      await res.body?.cancel();
      limited = res.status === 429;
    }
    expect(limited, "the service key's bucket never ran out").toBe(true);
    const asked: number[] = [];
    // The worker asks for a minute (its production window); this binding's window is 10 s, so
    // the pause is recorded in full and taken only as long as the test's window needs.
    const wait = async (ms: number) => {
      asked.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, WINDOW_MS + 500)));
    };
    const api = workerClient({ workerUrl: worker.url, serviceKey: worker.serviceKey }, wait);
    const body = await api<{ user_id: string; status: string }>("GET", "/v1/entitlements/demo_limit");
    expect(body).toMatchObject({ user_id: "demo_limit", status: "none" });
    expect(asked[0]).toBe(60_000);
  }, 60_000);

  it("plays each lane under a key of its own, so one lane's requests do not spend another's window", async () => {
    const laneKeys = [await worker.createKey("service", "seed-lane-1"), await worker.createKey("service", "seed-lane-2")];
    const asked: number[] = [];
    const wait = async (ms: number) => void asked.push(ms);
    const lanes = laneClients({ workerUrl: worker.url, serviceKey: worker.serviceKey, laneKeys }, 4, wait);
    // Miniflare's windows are aligned to the wall clock: the seven requests below must fall in
    // one, so with less than half a window left, start at the next one's beginning.
    const left = WINDOW_MS - (Date.now() % WINDOW_MS);
    if (left < WINDOW_MS / 2) await new Promise((r) => setTimeout(r, left + 50));
    // Four lanes on two keys: lanes 1 and 3 share the first key, 2 and 4 the second. Each lane
    // makes one request, then lane 1 one more: three on the first key (its whole window), two on
    // the second, and none waits.
    for (const [i, api] of [...lanes, lanes[0]!].entries()) {
      const body = await api<{ user_id: string }>("GET", `/v1/entitlements/demo_lane_${i}`);
      expect(body.user_id).toBe(`demo_lane_${i}`);
    }
    expect(asked).toEqual([]);
    // The first key's window is spent: its next request is refused (and waited out), the
    // second key's still answers at once.
    const refused = await worker.request("/v1/entitlements/demo_lane_x", { key: laneKeys[0]! });
    await refused.body?.cancel();
    expect(refused.status).toBe(429);
    await lanes[1]!<{ user_id: string }>("GET", "/v1/entitlements/demo_lane_y");
    expect(asked).toEqual([]);
  });

  it("reads Retry-After as seconds or as an HTTP date, and takes a minute when it is missing or unreadable", () => {
    const now = Date.parse("2026-12-07T04:00:00Z");
    expect(retryAfterMs("60", now)).toBe(60_000);
    expect(retryAfterMs("Mon, 07 Dec 2026 04:00:05 GMT", now)).toBe(5_000);
    expect(retryAfterMs("Mon, 07 Dec 2026 03:59:00 GMT", now)).toBe(0);
    expect(retryAfterMs(null, now)).toBe(60_000);
    expect(retryAfterMs("soon", now)).toBe(60_000);
  });
});
