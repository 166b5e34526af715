import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigInvalid, createEntitlements, WorkerRejected, WorkerUnavailable } from "../src/index.js";
import { createTokenManager } from "../src/manager.js";
import { API_KEY, AUDIENCE, ISSUER, sdkFor, startWorker, type FakeWorker } from "./helpers.js";

let w: FakeWorker;
let closed = false;
beforeEach(async () => {
  w = await startWorker();
  closed = false;
  w.users.set("u-local", { tier: "local", status: "active" });
});
afterEach(async () => {
  if (!closed) await w.close();
});
async function shutdown() {
  closed = true;
  await w.close();
}

describe("degradation when the worker is unreachable", () => {
  it("keeps deciding from the last valid token until it expires, then fails closed", async () => {
    const sdk = sdkFor(w, { refreshBefore: 60, clockTolerance: 30 });
    const claims = await sdk.forUser("u-local");
    await shutdown(); // server closed: connections refused from now on

    w.clock.advance(250); // inside the refresh window: the refresh fails, the cached token still serves
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: true, reason: "included" });
    w.clock.advance(50 + 29); // exp + 29 s: still within the clock tolerance
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: true, reason: "included" });

    w.clock.ms = (claims.exp + 30) * 1000; // expired beyond tolerance
    const d = await sdk.check("u-local", "job_search");
    expect(d).toMatchObject({ allowed: false, reason: "unavailable", error: "ERR_WORKER_UNAVAILABLE" });
    expect(d.message).toMatch(/try again/i);
  });

  it("keeps allowing failOpen features (and only them) once no valid token remains", async () => {
    const sdk = sdkFor(w, { failOpen: ["job_search"] });
    await shutdown();
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: true, reason: "unavailable" });
    expect(await sdk.check("u-local", "commute_search")).toMatchObject({ allowed: false, reason: "unavailable" });
  });

  it("treats a rejecting fetch (network error) like an unreachable worker", async () => {
    const sdk = createTokenManager({
      baseUrl: "https://billing.example",
      apiKey: API_KEY,
      issuer: ISSUER,
      audience: AUDIENCE,
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const err = await sdk.forUser("u-local").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailable);
    expect((err as WorkerUnavailable).cause).toBeInstanceOf(TypeError);
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: false, reason: "unavailable" });
  });

  it("answers unavailable on HTTP 503 and backs off instead of calling the worker on every request", async () => {
    const sdk = sdkFor(w);
    w.failWith = 503;
    for (let i = 0; i < 20; i++) {
      expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: false, reason: "unavailable", error: "ERR_WORKER_UNAVAILABLE" });
    }
    expect(w.hits.token).toBe(1);
    w.failWith = undefined;
    w.clock.advance(2); // past the first back-off
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: true });
    expect(w.hits.token).toBe(2);
  });

  it("times out a hanging worker", async () => {
    const sdk = sdkFor(w, { timeout: 100 });
    w.delayMs = 2_000;
    const t0 = performance.now();
    expect(await sdk.check("u-local", "job_search")).toMatchObject({ allowed: false, reason: "unavailable", error: "ERR_WORKER_UNAVAILABLE" });
    expect(performance.now() - t0).toBeLessThan(1_500);
  });

  it("reports a JWKS that cannot be fetched as ERR_WORKER_UNAVAILABLE", async () => {
    const sdk = sdkFor(w);
    const token = await w.sign("u-local");
    w.failWith = 500;
    await expect(sdk.verify(token)).rejects.toMatchObject({ code: "ERR_WORKER_UNAVAILABLE", status: 500 });
    await expect(sdk.verify(token)).rejects.toMatchObject({ code: "ERR_WORKER_UNAVAILABLE" });
    expect(w.hits.jwks).toBe(1); // the cooldown applies to failures too
  });

  it("reports a JWKS answering 404 as ERR_WORKER_UNAVAILABLE, not as a rejection", async () => {
    const sdk = sdkFor(w);
    const token = await w.sign("u-local");
    w.failWith = 404;
    await expect(sdk.verify(token)).rejects.toMatchObject({ code: "ERR_WORKER_UNAVAILABLE", status: 404 });
  });

  it("keeps verifying with cached keys when a background JWKS refresh fails", async () => {
    const sdk = sdkFor(w, { jwksMaxAge: 60_000 });
    await sdk.verify(await w.sign("u-local"));
    w.failWith = 503;
    w.clock.advance(120);
    const token = await w.sign("u-local");
    await expect(sdk.verify(token)).resolves.toMatchObject({ sub: "u-local" });
    await expect.poll(() => w.hits.jwks).toBe(2);
    await expect(sdk.verify(token)).resolves.toMatchObject({ sub: "u-local" });
  });
});

describe("worker rejections", () => {
  it("surfaces a 401 problem+json as WorkerRejected with the problem document", async () => {
    const sdk = createTokenManager({ baseUrl: w.url, apiKey: "wrong", issuer: ISSUER, audience: AUDIENCE, now: w.clock.now });
    const err = await sdk.forUser("u-local").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerRejected);
    expect(err).toMatchObject({ code: "ERR_WORKER_REJECTED", status: 401, problem: { title: "invalid API key" } });
  });

  it("answers unavailable for an unknown user without throwing from check", async () => {
    const sdk = sdkFor(w);
    expect(await sdk.check("nobody", "job_search")).toMatchObject({ allowed: false, reason: "unavailable", error: "ERR_WORKER_REJECTED" });
  });

  it("rejects a malformed token response", async () => {
    const sdk = createTokenManager({
      baseUrl: "https://billing.example",
      apiKey: API_KEY,
      issuer: ISSUER,
      audience: AUDIENCE,
      fetch: async () => new Response("<html>proxy error</html>", { status: 200 }),
    });
    await expect(sdk.forUser("u-local")).rejects.toMatchObject({ code: "ERR_WORKER_UNAVAILABLE" });
  });
});

describe("invalid input and configuration", () => {
  it("rejects options that would be unsafe or unusable", () => {
    const base = { baseUrl: "https://billing.example", apiKey: API_KEY, issuer: ISSUER, audience: AUDIENCE };
    expect(() => createTokenManager({ ...base, baseUrl: "http://billing.example" })).toThrow(ConfigInvalid);
    expect(() => createTokenManager({ ...base, baseUrl: "not a url" })).toThrow(ConfigInvalid);
    expect(() => createTokenManager({ ...base, apiKey: "" })).toThrow(ConfigInvalid);
    expect(() => createTokenManager({ ...base, audience: "" })).toThrow(ConfigInvalid);
    expect(() => createTokenManager({ ...base, baseUrl: "http://127.0.0.1:8787" })).not.toThrow();
    // The verifier alone checks the same (its JWKS decides which tokens are genuine), without an API key.
    const { apiKey: _, ...verifier } = base;
    expect(() => createEntitlements({ ...verifier, baseUrl: "http://billing.example" })).toThrow(ConfigInvalid);
    expect(() => createEntitlements({ ...verifier, issuer: "" })).toThrow(ConfigInvalid);
    expect(() => createEntitlements(verifier)).not.toThrow();
  });

  it("rejects an empty user id as a programming error", async () => {
    const sdk = sdkFor(w);
    await expect(sdk.forUser("")).rejects.toThrow(TypeError);
    await expect(sdk.check("", "job_search")).rejects.toThrow(TypeError);
  });

  it.each([
    ["a number", 42],
    ["an empty string", ""],
    ["two segments", "a.b"],
    ["an empty header", ".e30.sig"],
    ["invalid base64url", "%%%.e30.sig"],
  ])("rejects %s as ERR_TOKEN_MALFORMED", async (_n, token) => {
    await expect(sdkFor(w).verify(token as string)).rejects.toMatchObject({ code: "ERR_TOKEN_MALFORMED" });
  });

  it("exposes the error code on the class as well as on the instance", () => {
    expect(WorkerUnavailable.code).toBe("ERR_WORKER_UNAVAILABLE");
    expect(new WorkerUnavailable("x").code).toBe(WorkerUnavailable.code);
    expect(new WorkerUnavailable("x").name).toBe("WorkerUnavailable");
  });
});
