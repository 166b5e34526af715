/**
 * verifyWebhook against deliveries signed by `standardwebhooks` (the Standard Webhooks authors'
 * own implementation, independent of this SDK's WebCrypto code), and the token manager taking a
 * pushed `entitlement.changed`.
 */
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigInvalid } from "../src/index.js";
import { applyWebhook, verifyWebhook, WebhookMalformed, WebhookSignatureInvalid, WebhookTimestampInvalid, type WebhookEvent } from "../src/webhooks.js";
import { sdkFor, startWorker, type FakeWorker } from "./helpers.js";

const newSecret = () => `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
const NOW = Date.UTC(2026, 11, 7, 9, 30, 0);
const clock = { now: () => NOW };

const entitlement = (tier: string | null, features: string[]) => ({
  tier,
  status: tier ? "active" : "none",
  features,
  limits: tier ? { search_radius_miles: 50 } : {},
  trial_end: null,
  grace_until: null,
});
const changed = (userId: string) =>
  JSON.stringify({
    type: "entitlement.changed",
    timestamp: "2026-12-07T09:29:58Z",
    data: { user_id: userId, before: entitlement("local", ["local_job_search"]), after: entitlement("mobile", ["local_job_search", "nationwide_job_search"]) },
  });

/** A delivery as the contract describes it, signed by the reference implementation with each secret given. */
function deliver(body: string, secrets: string[], opts: { id?: string; at?: number } = {}): Record<string, string> {
  const id = opts.id ?? "msg_2Lq7xP0c";
  const at = new Date(opts.at ?? NOW);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(id, at, body)).join(" "),
  };
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; error: unknown }> {
  try {
    await p;
  } catch (error) {
    return { code: (error as { code: string }).code, error };
  }
  throw new Error("expected a rejection");
}

describe("verifyWebhook", () => {
  it("accepts a delivery signed to the spec and answers the typed event with its webhook-id", async () => {
    const secret = newSecret();
    const body = changed("u-42");
    const event: WebhookEvent = await verifyWebhook(body, deliver(body, [secret], { id: "msg_abc" }), secret, clock);
    expect(event.id).toBe("msg_abc");
    expect(event.type).toBe("entitlement.changed");
    if (event.type !== "entitlement.changed") throw new Error("narrowing");
    expect(event.data.user_id).toBe("u-42");
    expect(event.data.after.features).toContain("nationwide_job_search");
    expect(event.data.before?.tier).toBe("local");
  });

  it("reads a fetch Headers object, header names in any case, and the body as bytes", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [secret]);
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    await expect(verifyWebhook(body, new Headers(headers), secret, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    await expect(verifyWebhook(new TextEncoder().encode(body), upper, secret, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    await expect(verifyWebhook(new TextEncoder().encode(body).buffer as ArrayBuffer, headers, secret, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
  });

  it("refuses a body changed after signing, even by one character", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [secret]);
    const { code, error } = await rejection(verifyWebhook(body.replace("u-1", "u-2"), headers, secret, clock));
    expect(code).toBe("ERR_WEBHOOK_SIGNATURE");
    expect(error).toBeInstanceOf(WebhookSignatureInvalid);
  });

  it("refuses a signature made with another endpoint's secret", async () => {
    const body = changed("u-1");
    expect((await rejection(verifyWebhook(body, deliver(body, [newSecret()]), newSecret(), clock))).code).toBe("ERR_WEBHOOK_SIGNATURE");
  });

  it("refuses a valid signature moved to another webhook-id or timestamp", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [secret]);
    expect((await rejection(verifyWebhook(body, { ...headers, "webhook-id": "msg_other" }, secret, clock))).code).toBe("ERR_WEBHOOK_SIGNATURE");
    expect((await rejection(verifyWebhook(body, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) + 1) }, secret, clock))).code).toBe("ERR_WEBHOOK_SIGNATURE");
  });

  it("accepts either signature of a delivery made during a secret rotation, with the old or the new secret", async () => {
    const old = newSecret();
    const rotated = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [old, rotated]);
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    await expect(verifyWebhook(body, headers, old, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    await expect(verifyWebhook(body, headers, rotated, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    // A receiver moving to the new secret may hold both.
    await expect(verifyWebhook(body, deliver(body, [rotated]), [old, rotated], clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    expect((await rejection(verifyWebhook(body, headers, newSecret(), clock))).code).toBe("ERR_WEBHOOK_SIGNATURE");
  });

  it("refuses a genuine delivery whose timestamp is more than five minutes away, and honours the tolerance option", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const old = deliver(body, [secret], { at: NOW - 301_000 });
    const { code, error } = await rejection(verifyWebhook(body, old, secret, clock));
    expect(code).toBe("ERR_WEBHOOK_TIMESTAMP");
    expect(error).toBeInstanceOf(WebhookTimestampInvalid);
    expect((error as WebhookTimestampInvalid).timestamp).toBe(Math.floor((NOW - 301_000) / 1000));
    expect((await rejection(verifyWebhook(body, deliver(body, [secret], { at: NOW + 301_000 }), secret, clock))).code).toBe("ERR_WEBHOOK_TIMESTAMP");
    await expect(verifyWebhook(body, deliver(body, [secret], { at: NOW - 299_000 }), secret, clock)).resolves.toMatchObject({ type: "entitlement.changed" });
    await expect(verifyWebhook(body, old, secret, { ...clock, tolerance: 600 })).resolves.toMatchObject({ type: "entitlement.changed" });
    expect((await rejection(verifyWebhook(body, deliver(body, [secret], { at: NOW - 11_000 }), secret, { ...clock, tolerance: 10 }))).code).toBe("ERR_WEBHOOK_TIMESTAMP");
  });

  it("refuses missing or unreadable headers as malformed", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [secret]);
    const without = (name: string) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
    for (const bad of [
      without("webhook-id"),
      without("webhook-timestamp"),
      without("webhook-signature"),
      { ...headers, "webhook-timestamp": "yesterday" },
      { ...headers, "webhook-timestamp": "1.7e9" },
      { ...headers, "webhook-signature": `${headers["webhook-signature"]} ${"v1,x".repeat(2000)}` },
    ]) {
      const { code, error } = await rejection(verifyWebhook(body, bad, secret, clock));
      expect(code).toBe("ERR_WEBHOOK_MALFORMED");
      expect(error).toBeInstanceOf(WebhookMalformed);
    }
  });

  it("finds no signature in entries of another version, bad base64 or the wrong length", async () => {
    const secret = newSecret();
    const body = changed("u-1");
    const headers = deliver(body, [secret]);
    const mac = headers["webhook-signature"]!.slice(3);
    for (const signature of [`v2,${mac}`, `v1a,${mac}`, mac, "v1,!!!not-base64!!!", `v1,${mac.slice(0, 20)}`, "v1,", ""]) {
      const { code } = await rejection(verifyWebhook(body, { ...headers, "webhook-signature": signature }, secret, clock));
      expect(code).toBe(signature === "" ? "ERR_WEBHOOK_MALFORMED" : "ERR_WEBHOOK_SIGNATURE");
    }
    // Unknown entries beside a valid one are skipped, as the spec asks.
    await expect(verifyWebhook(body, { ...headers, "webhook-signature": `v1a,${mac} ${headers["webhook-signature"]}` }, secret, clock)).resolves.toBeDefined();
  });

  it("refuses a signed body that is not an event", async () => {
    const secret = newSecret();
    for (const body of [
      "not json",
      "[]",
      JSON.stringify({ type: "entitlement.changed", timestamp: "2026-12-07T09:29:58Z" }),
      JSON.stringify({ type: "entitlement.changed", timestamp: "2026-12-07T09:29:58Z", data: { after: {} } }),
    ]) {
      expect((await rejection(verifyWebhook(body, deliver(body, [secret]), secret, clock))).code).toBe("ERR_WEBHOOK_MALFORMED");
    }
  });

  it("passes on an event type this version does not know, so the receiver can answer 2xx", async () => {
    const secret = newSecret();
    const body = JSON.stringify({ type: "refund.created", timestamp: "2026-12-07T09:29:58Z", data: { user_id: "u-1", refund_id: "re_1" } });
    await expect(verifyWebhook(body, deliver(body, [secret]), secret, clock)).resolves.toMatchObject({ type: "refund.created", data: { refund_id: "re_1" } });
  });

  it("refuses a secret that is not the endpoint's whsec_<base64> secret", async () => {
    const body = changed("u-1");
    const headers = deliver(body, [newSecret()]);
    for (const secret of ["", "not-a-secret", "whsec_", [] as string[]]) {
      expect((await rejection(verifyWebhook(body, headers, secret, clock))).error).toBeInstanceOf(ConfigInvalid);
    }
  });

  it("agrees with the reference implementation on any body: signed verifies, one changed byte does not", async () => {
    const secret = newSecret();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 200 }), fc.nat({ max: 199 }), async (text, at) => {
        const body = JSON.stringify({ type: "invoice.paid", timestamp: "2026-12-07T09:29:58Z", data: { user_id: text, invoice: {} } });
        const headers = deliver(body, [secret]);
        await expect(verifyWebhook(body, headers, secret, clock)).resolves.toMatchObject({ data: { user_id: text } });
        const bytes = new TextEncoder().encode(body);
        const i = at % bytes.length;
        bytes[i] = bytes[i]! ^ 1;
        await expect(verifyWebhook(bytes, headers, secret, clock)).rejects.toBeInstanceOf(WebhookSignatureInvalid);
      }),
      { numRuns: 100, seed: 27 },
    );
  });
});

describe("token manager: a pushed entitlement.changed", () => {
  let w: FakeWorker;
  beforeEach(async () => {
    w = await startWorker();
  });
  afterEach(async () => {
    await w.close();
  });

  it("drops the user's cached token at once, so the next decision is the new one", async () => {
    const secret = newSecret();
    // No feed: only the push can tell the manager of the change before the token expires.
    const sdk = sdkFor(w, { changes: false });
    w.users.set("u-up", { tier: "local", status: "active" });
    w.users.set("u-other", { tier: "local", status: "active" });
    expect((await sdk.check("u-up", "nationwide_search")).allowed).toBe(false);
    expect((await sdk.check("u-other", "nationwide_search")).allowed).toBe(false);
    w.users.set("u-up", { tier: "mobile", status: "active" });
    expect((await sdk.check("u-up", "nationwide_search")).allowed).toBe(false); // cached
    const body = changed("u-up");
    expect(applyWebhook(sdk, await verifyWebhook(body, deliver(body, [secret]), secret, clock))).toBe(true);
    expect(await sdk.check("u-up", "nationwide_search")).toMatchObject({ allowed: true, reason: "included" });
    expect(w.hits.token).toBe(3);
    await sdk.check("u-other", "nationwide_search");
    expect(w.hits.token).toBe(3); // the other user's token stays cached
  });

  it("refetches a token whose request was under way when the push arrived", async () => {
    const sdk = sdkFor(w, { changes: false });
    w.users.set("u-up", { tier: "local", status: "active" });
    w.tokenLagMs = 200; // the token is signed before the change and arrives after the push
    const pending = sdk.check("u-up", "nationwide_search");
    await new Promise((r) => setTimeout(r, 50));
    w.users.set("u-up", { tier: "mobile", status: "active" });
    w.tokenLagMs = 0;
    applyWebhook(sdk, { type: "entitlement.changed", data: { user_id: "u-up" } });
    expect(await pending).toMatchObject({ allowed: true });
    expect(w.hits.token).toBe(2);
  });

  it("ignores events other than entitlement.changed", async () => {
    const sdk = sdkFor(w, { changes: false });
    w.users.set("u-1", { tier: "local", status: "active" });
    await sdk.check("u-1", "job_search");
    expect(applyWebhook(sdk, { type: "subscription.updated", data: { user_id: "u-1", subscription: {} } })).toBe(false);
    expect(applyWebhook(sdk, { type: "entitlement.changed", data: {} })).toBe(false);
    await sdk.check("u-1", "job_search");
    expect(w.hits.token).toBe(1);
  });
});
