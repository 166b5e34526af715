/**
 * A token is only good for the user it was issued to: user B presenting user A's valid token,
 * or any path handing user A's claims to a request of user B, must be refused.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import express from "express";
import { Hono } from "hono";
import { ClaimInvalid, ConfigInvalid, SubjectMismatch, verifyToken } from "../src/index.js";
import { requireFeature as honoRequireFeature, type EntitlementVariables } from "../src/hono.js";
import { requireFeature as nodeRequireFeature, type EntitlementRequest, type NodeResponseLike } from "../src/node.js";
import { AUDIENCE, ISSUER, sdkFor, startWorker, type FakeWorker } from "./helpers.js";

let w: FakeWorker;
beforeEach(async () => {
  w = await startWorker();
  w.users.set("alice", { tier: "mobile", status: "active" });
  w.users.set("bob", { tier: "local", status: "active" });
});
afterEach(() => w.close());

describe("verify with the subject option", () => {
  it("rejects alice's valid token presented as bob's with SubjectMismatch", async () => {
    const sdk = sdkFor(w);
    const err = await sdk.verify(await w.sign("alice"), { subject: "bob" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubjectMismatch);
    expect(err).toBeInstanceOf(ClaimInvalid);
    expect(err).toMatchObject({ code: SubjectMismatch.code, claim: "sub" });
  });

  it("rejects another user's token in the standalone verifyToken too", async () => {
    const token = await w.sign("alice");
    const keys = sdkFor(w).keys;
    const options = { keys, issuer: ISSUER, audience: AUDIENCE, now: w.clock.now };
    await expect(verifyToken(token, { ...options, subject: "bob" })).rejects.toBeInstanceOf(SubjectMismatch);
    await expect(verifyToken(token, { ...options, subject: "alice" })).resolves.toMatchObject({ sub: "alice" });
  });

  it("accepts the token of the expected subject", async () => {
    await expect(sdkFor(w).verify(await w.sign("alice"), { subject: "alice" })).resolves.toMatchObject({ sub: "alice", tier: "mobile" });
  });

  it("refuses a subject option that is present but empty or undefined instead of skipping the check", async () => {
    const sdk = sdkFor(w);
    const token = await w.sign("alice");
    await expect(sdk.verify(token, { subject: "" })).rejects.toBeInstanceOf(ConfigInvalid);
    await expect(sdk.verify(token, { subject: undefined })).rejects.toBeInstanceOf(ConfigInvalid);
  });
});

describe("token manager", () => {
  it("rejects a token the worker issued for another user with SubjectMismatch and answers unavailable", async () => {
    const sdk = sdkFor(w);
    const aliceToken = await w.sign("alice");
    w.sign = async () => aliceToken;
    const err = await sdk.forUser("bob").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubjectMismatch);
    const { decision, claims } = await sdk.evaluate("bob", "nationwide_search");
    expect(decision).toMatchObject({ allowed: false, reason: "unavailable", error: SubjectMismatch.code });
    expect(claims).toBeNull();
  });
});

/** A checker wired to the wrong user: whoever asks, it answers with alice's entitlements. */
function alwaysAlice(sdk: ReturnType<typeof sdkFor>) {
  return { evaluate: (_userId: string, feature: string) => sdk.evaluate("alice", feature) };
}

describe("Hono requireFeature", () => {
  it("answers 503 without running the handler when the checker returns another user's claims", async () => {
    const app = new Hono<{ Variables: EntitlementVariables }>();
    let handled = false;
    app.get("/jobs/nationwide", honoRequireFeature(alwaysAlice(sdkFor(w)), "nationwide_search", { userId: (c) => c.req.header("x-user-id") }), (c) => {
      handled = true;
      return c.json({ ok: true });
    });
    const res = await app.request("/jobs/nationwide", { headers: { "x-user-id": "bob" } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ reason: "unavailable" });
    expect(handled).toBe(false);
  });

  it("still lets alice through with her own claims", async () => {
    const app = new Hono<{ Variables: EntitlementVariables }>();
    app.get("/jobs/nationwide", honoRequireFeature(alwaysAlice(sdkFor(w)), "nationwide_search", { userId: (c) => c.req.header("x-user-id") }), (c) => c.json({ sub: c.get("entitlementClaims")?.sub }));
    const res = await app.request("/jobs/nationwide", { headers: { "x-user-id": "alice" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: "alice" });
  });
});

describe("Express / node:http requireFeature", () => {
  it("answers 503 without calling next() when the checker returns another user's claims", async () => {
    const mw = nodeRequireFeature(alwaysAlice(sdkFor(w)), "nationwide_search", { userId: (req: express.Request) => req.header("x-user-id") });
    const req = { headers: { "x-user-id": "bob" }, header: (n: string) => (n === "x-user-id" ? "bob" : undefined) } as unknown as express.Request & EntitlementRequest;
    let nextCalled = false;
    const res = await new Promise<{ status: number; body: string }>((resolve) => {
      const r: NodeResponseLike = {
        statusCode: 0,
        setHeader() {},
        end(chunk: string) {
          resolve({ status: r.statusCode, body: chunk });
        },
      };
      mw(req, r, () => {
        nextCalled = true;
        resolve({ status: 200, body: "" });
      });
    });
    expect(nextCalled).toBe(false);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ reason: "unavailable" });
    expect(req.entitlementClaims ?? null).toBeNull();
  });
});
