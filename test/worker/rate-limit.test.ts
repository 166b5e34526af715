import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../worker/src/app";
import { BASE, call, freshIp, makeKey } from "./helpers";

describe("rate limits", () => {
  it("limits one client IP and answers 429 problem+json with Retry-After", async () => {
    const ip = "203.0.113.77";
    let limited: Response | undefined;
    // wrangler.toml allows 300 requests a minute per IP. The binding counts in fixed minute
    // windows, so a run that crosses a window's end may need up to 600 before the 301st of one
    // window: 650 always reaches it.
    for (let i = 0; i < 650 && !limited; i++) {
      const res = await call("GET", "/v1/catalog", { ip });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited, "no 429 within 650 requests").toBeDefined();
    expect(limited!.headers.get("retry-after")).toBe("60");
    expect(limited!.headers.get("content-type")).toBe("application/problem+json");
    expect((await limited!.json<{ type: string }>()).type).toMatch(/rate-limited$/);
    // Another address is unaffected.
    expect((await call("GET", "/v1/catalog", { ip: "203.0.113.78" })).status).toBe(200);
  });

  it("limits one API key across addresses", async () => {
    const { key } = await makeKey("analyst");
    let limited: Response | undefined;
    // 600 a minute per key; each request comes from a fresh IP so only the key limit applies.
    // Fixed minute windows: a run that crosses a window's end may need up to 1,200 requests.
    for (let i = 0; i < 1300 && !limited; i++) {
      const res = await call("GET", "/v1/audit?limit=1", { key });
      if (res.status === 429) limited = res;
    }
    expect(limited, "no 429 within 1300 requests").toBeDefined();
    expect(limited!.headers.get("retry-after")).toBe("60");
  }, 90_000);

  it("counts each call of an MCP batch against the key's limit, refusing the batch whole once it is reached", async () => {
    const { key } = await makeKey("analyst");
    const batch = Array.from({ length: 20 }, (_, i) => ({ jsonrpc: "2.0", id: i + 1, method: "ping" }));
    let limited: Response | undefined;
    let batches = 0;
    // 600 calls a minute per key, 20 per batch: 30 batches, or up to 60 when the run crosses the
    // end of the binding's fixed minute window. Counted as one request each, 70 never get there.
    for (; batches < 70 && !limited; batches++) {
      const res = await call("POST", "/mcp", { key, body: batch });
      if (res.status === 429) limited = res;
      else expect(((await res.json()) as unknown[]).length).toBe(20);
    }
    expect(limited, "no 429 within 70 batches of 20 calls").toBeDefined();
    expect(batches).toBeLessThanOrEqual(61);
    expect(limited!.headers.get("retry-after")).toBe("60");
    expect(limited!.headers.get("content-type")).toBe("application/problem+json");
    expect((await limited!.json<{ type: string }>()).type).toMatch(/rate-limited$/);
  }, 90_000);
});

/**
 * Outside Cloudflare (ENVIRONMENT development: wrangler dev, npm start) no edge sets
 * cf-connecting-ip, so the header is whatever the client sends: the worker here is the suite's
 * own with the real Rate Limiting bindings, answering as `wrangler dev` would configure it.
 */
describe("rate limits outside Cloudflare", () => {
  const app = createApp();
  const local = { ...env, ENVIRONMENT: "development" as const };
  const localCall = async (path: string, init: { key?: string; ip?: string } = {}): Promise<Response> =>
    await app.request(`${BASE}${path}`, { headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...(init.ip ? { "cf-connecting-ip": init.ip } : {}) } }, local);

  /** Requests until the first 429 (at most 650: a run may cross a fixed minute window's end). */
  async function until429(send: (i: number) => Promise<Response>): Promise<Response | undefined> {
    for (let i = 0; i < 650; i++) {
      const res = await send(i);
      if (res.status === 429) return res;
    }
    return undefined;
  }

  it("gives a client that forges a new cf-connecting-ip on every request no fresh bucket: its API key's runs out at the per-address limit", async () => {
    const { key } = await makeKey("analyst", { name: "local-forger" });
    const limited = await until429(() => localCall("/v1/audit?limit=1", { key, ip: freshIp() }));
    expect(limited, "no 429 within 650 requests").toBeDefined();
    expect(limited!.headers.get("retry-after")).toBe("60");
    // The per-address limit (300 a minute), not the per-key one (600): the forged addresses were not counted as addresses.
    expect((await limited!.json<{ detail: string }>()).detail).toMatch(/from this client/);
  });

  it("tells clients without a trusted address apart by their API key: one client's 429 leaves another's requests at 200", async () => {
    const first = await makeKey("analyst", { name: "local-first" });
    const second = await makeKey("analyst", { name: "local-second" });
    expect(await until429(() => localCall("/v1/audit?limit=1", { key: first.key }))).toBeDefined();
    expect((await localCall("/v1/audit?limit=1", { key: first.key })).status).toBe(429);
    expect((await localCall("/v1/audit?limit=1", { key: second.key })).status).toBe(200);
  });

  it("puts requests without a valid API key in one bucket whatever address they claim, made-up keys included", async () => {
    const { key } = await makeKey("analyst", { name: "local-keyed" });
    const limited = await until429(() => localCall("/v1/catalog", { ip: freshIp() }));
    expect(limited, "no 429 within 650 requests").toBeDefined();
    expect(limited!.headers.get("content-type")).toBe("application/problem+json");
    // A made-up key is no identity either: it is refused by the same bucket, before its 401.
    expect((await localCall("/v1/audit?limit=1", { key: `fja_madeup${Date.now()}`, ip: freshIp() })).status).toBe(429);
    expect((await localCall("/v1/audit?limit=1", { key })).status).toBe(200);
  });
});
