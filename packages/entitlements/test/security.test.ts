/** Attacks from RFC 8725 (JWT BCP) and friends: every one is rejected with a typed error. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SignJWT, base64url } from "jose";
import { can, EntitlementsError } from "../src/index.js";
import { AUDIENCE, ISSUER, entitlementPayload, makeKey, sdkFor, signToken, startWorker, type FakeWorker, type SigningKey } from "./helpers.js";

const enc = new TextEncoder();
const b64 = (v: unknown) => base64url.encode(enc.encode(JSON.stringify(v)));

/** Signs arbitrary header/payload JSON with Ed25519, bypassing jose's own header checks. */
async function signRaw(header: Record<string, unknown>, payload: Record<string, unknown>, key: CryptoKey): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", key, enc.encode(input)));
  return `${input}.${base64url.encode(sig)}`;
}

let w: FakeWorker;
let attacker: SigningKey;
beforeEach(async () => {
  w = await startWorker();
  w.users.set("victim", { tier: "local", status: "active" });
  attacker = await makeKey("attacker");
});
afterEach(() => w.close());

function validPayload(extra: Record<string, unknown> = {}) {
  return {
    ...entitlementPayload("victim", { tier: "mobile", status: "active" }),
    iss: ISSUER,
    aud: AUDIENCE,
    iat: w.clock.s,
    exp: w.clock.s + 300,
    ...extra,
  };
}

type Attack = [name: string, make: () => Promise<string>, code: string];
const attacks: Attack[] = [
  ["alg none with an empty signature", async () => `${b64({ alg: "none", typ: "JWT", kid: w.signing.kid })}.${b64(validPayload())}.`, "ERR_ALG_NOT_ALLOWED"],
  [
    "alg none with a copied signature",
    async () => {
      const real = (await w.sign("victim")).split(".")[2];
      return `${b64({ alg: "none", kid: w.signing.kid })}.${b64(validPayload())}.${real}`;
    },
    "ERR_ALG_NOT_ALLOWED",
  ],
  [
    "HS256 signed with the public key bytes as the HMAC secret",
    async () => {
      const secret = base64url.decode(w.signing.jwk.x as string);
      return new SignJWT(validPayload()).setProtectedHeader({ alg: "HS256", kid: w.signing.kid, typ: "JWT" }).sign(secret);
    },
    "ERR_ALG_NOT_ALLOWED",
  ],
  [
    "HS256 signed with the JWK JSON as the HMAC secret",
    async () => new SignJWT(validPayload()).setProtectedHeader({ alg: "HS256", kid: w.signing.kid }).sign(enc.encode(JSON.stringify(w.signing.jwk))),
    "ERR_ALG_NOT_ALLOWED",
  ],
  ["Ed25519 alg name instead of EdDSA", async () => signRaw({ alg: "Ed25519", kid: w.signing.kid }, validPayload(), w.signing.privateKey), "ERR_ALG_NOT_ALLOWED"],
  ["a key that is not in the JWKS, claiming the real kid", async () => signRaw({ alg: "EdDSA", kid: w.signing.kid, typ: "JWT" }, validPayload(), attacker.privateKey), "ERR_SIGNATURE_INVALID"],
  ["a key that is not in the JWKS, with its own kid", async () => signToken(validPayload(), attacker, { iat: w.clock.s }), "ERR_KID_UNKNOWN"],
  ["a jwk header embedding the attacker's key", async () => signRaw({ alg: "EdDSA", kid: attacker.kid, jwk: attacker.jwk }, validPayload(), attacker.privateKey), "ERR_HEADER_FORBIDDEN"],
  [
    "a jku header pointing to the attacker's JWKS",
    async () => signRaw({ alg: "EdDSA", kid: attacker.kid, jku: "https://evil.example/jwks.json" }, validPayload(), attacker.privateKey),
    "ERR_HEADER_FORBIDDEN",
  ],
  [
    "an x5u header pointing to the attacker's certificate",
    async () => signRaw({ alg: "EdDSA", kid: attacker.kid, x5u: "https://evil.example/cert.pem" }, validPayload(), attacker.privateKey),
    "ERR_HEADER_FORBIDDEN",
  ],
  ["an x5c header embedding a certificate chain", async () => signRaw({ alg: "EdDSA", kid: attacker.kid, x5c: ["MIIB"] }, validPayload(), attacker.privateKey), "ERR_HEADER_FORBIDDEN"],
  ["a kid with path traversal characters", async () => signRaw({ alg: "EdDSA", kid: "../../etc/passwd" }, validPayload(), attacker.privateKey), "ERR_KID_UNKNOWN"],
  ["a kid with SQL injection characters", async () => signRaw({ alg: "EdDSA", kid: "' OR 1=1 --" }, validPayload(), attacker.privateKey), "ERR_KID_UNKNOWN"],
  ["a kid that is not a string", async () => signRaw({ alg: "EdDSA", kid: { $ne: null } }, validPayload(), w.signing.privateKey), "ERR_KID_UNKNOWN"],
  ["no kid at all", async () => signRaw({ alg: "EdDSA" }, validPayload(), w.signing.privateKey), "ERR_KID_UNKNOWN"],
  ["an expired token", async () => signToken(validPayload(), w.signing, { iat: w.clock.s - 1000, ttl: 300 }), "ERR_TOKEN_EXPIRED"],
  ["an nbf in the future", async () => signToken(validPayload({ nbf: w.clock.s + 3600 }), w.signing, { iat: w.clock.s }), "ERR_TOKEN_NOT_YET_VALID"],
  ["an iat in the future", async () => signToken(validPayload(), w.signing, { iat: w.clock.s + 3600 }), "ERR_TOKEN_NOT_YET_VALID"],
  ["a wrong issuer", async () => signToken(validPayload(), w.signing, { iat: w.clock.s, iss: "https://evil.example" }), "ERR_CLAIM_INVALID"],
  ["a wrong audience", async () => signToken(validPayload(), w.signing, { iat: w.clock.s, aud: "another-app" }), "ERR_CLAIM_INVALID"],
  [
    "a payload changed after signing (tier flipped to mobile)",
    async () => {
      const [h, , s] = (await w.sign("victim")).split(".");
      return `${h}.${b64(validPayload())}.${s}`;
    },
    "ERR_SIGNATURE_INVALID",
  ],
  [
    "a signature with one byte flipped",
    async () => {
      const [h, p, s] = (await w.sign("victim")).split(".");
      const sig = base64url.decode(s!);
      sig[10]! ^= 1;
      return `${h}.${p}.${base64url.encode(sig)}`;
    },
    "ERR_SIGNATURE_INVALID",
  ],
  ["a truncated signature", async () => (await w.sign("victim")).slice(0, -10), "ERR_SIGNATURE_INVALID"],
  [
    "a non-canonical base64url signature (malleated last character)",
    async () => {
      const t = await w.sign("victim");
      const last = t.at(-1)!;
      // 64 bytes → 86 chars, the last char carries 2 unused bits: set them.
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      return t.slice(0, -1) + alphabet[alphabet.indexOf(last) | 3];
    },
    "ERR_SIGNATURE_INVALID",
  ],
  ["an unknown crit header", async () => signRaw({ alg: "EdDSA", kid: w.signing.kid, crit: ["exp-v2"], "exp-v2": 1 }, validPayload(), w.signing.privateKey), "ERR_CRIT_UNSUPPORTED"],
  ["a 1 MB token", async () => `${b64({ alg: "EdDSA", kid: w.signing.kid })}.${"A".repeat(1024 * 1024)}.sig`, "ERR_TOKEN_TOO_LARGE"],
  ["a JWE-like five-segment token", async () => `${await w.sign("victim")}.x.y`, "ERR_TOKEN_MALFORMED"],
  ["a header that is not JSON", async () => `${base64url.encode("not json")}.${b64(validPayload())}.${"A".repeat(86)}`, "ERR_TOKEN_MALFORMED"],
  [
    "a signed payload that is missing the features claim",
    async () => {
      const rest: Record<string, unknown> = validPayload();
      delete rest.features;
      return signToken(rest, w.signing, { iat: w.clock.s });
    },
    "ERR_CLAIM_INVALID",
  ],
  [
    "a signed payload with a javascript: upgrade URL",
    async () =>
      signToken(validPayload({ upgrade: { x: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "monthly" }, url: "javascript:alert(1)" } } }), w.signing, { iat: w.clock.s }),
    "ERR_CLAIM_INVALID",
  ],
  [
    "a signed payload whose upgrade price bills in a cycle the worker has none of",
    async () =>
      signToken(validPayload({ upgrade: { x: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "weekly" }, url: "https://app.test/upgrade" } } }), w.signing, {
        iat: w.clock.s,
      }),
    "ERR_CLAIM_INVALID",
  ],
  [
    "a signed payload whose upgrade price's cycle is an inherited property name",
    async () =>
      signToken(validPayload({ upgrade: { x: { tier: "mobile", price: { amount: 4900, currency: "usd", billing_cycle: "toString" }, url: "https://app.test/upgrade" } } }), w.signing, {
        iat: w.clock.s,
      }),
    "ERR_CLAIM_INVALID",
  ],
  ["a signed payload with an unknown status", async () => signToken(validPayload({ status: "vip" }), w.signing, { iat: w.clock.s }), "ERR_CLAIM_INVALID"],
];

describe("verify rejects attacks with a typed error", () => {
  it.each(attacks)("%s", async (_name, make, code) => {
    const sdk = sdkFor(w);
    await sdk.verify(await w.sign("victim")); // JWKS cached, like in production
    const token = await make();
    const err = await sdk.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EntitlementsError);
    expect((err as EntitlementsError).code).toBe(code);
  });
});

describe("check never allows a forged token served by a compromised channel", () => {
  it.each(attacks)("%s", async (_name, make, code) => {
    const sdk = sdkFor(w);
    const token = await make();
    w.sign = async () => token; // the token endpoint now answers the forged token
    const { decision, claims, error } = await sdk.evaluate("victim", "nationwide_search");
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe("unavailable");
    expect(claims).toBeNull();
    // An oversized token never reaches verify: the token response itself is refused as garbage.
    expect(error?.code).toBe(code === "ERR_TOKEN_TOO_LARGE" ? "ERR_WORKER_UNAVAILABLE" : code);
    expect((await sdk.check("victim", "job_search")).allowed).toBe(false);
  });
});

describe("resource exhaustion", () => {
  it("rejects a 1 MB token before parsing it, without any request", async () => {
    const sdk = sdkFor(w);
    const huge = "e".repeat(1024 * 1024);
    const t0 = performance.now();
    await expect(sdk.verify(huge)).rejects.toMatchObject({ code: "ERR_TOKEN_TOO_LARGE" });
    expect(performance.now() - t0).toBeLessThan(50);
    expect(w.hits.jwks).toBe(0);
  });

  it("does not refetch the JWKS per request for a flood of unknown kids", async () => {
    const sdk = sdkFor(w);
    await sdk.verify(await w.sign("victim"));
    const forged = await Promise.all(Array.from({ length: 200 }, (_, i) => signRaw({ alg: "EdDSA", kid: `junk-${i}` }, validPayload(), attacker.privateKey)));
    w.clock.advance(31);
    const codes = await Promise.all(
      forged.map((t) =>
        sdk.verify(t).then(
          () => "ok",
          (e: EntitlementsError) => e.code,
        ),
      ),
    );
    expect(new Set(codes)).toEqual(new Set(["ERR_KID_UNKNOWN"]));
    expect(w.hits.jwks).toBe(2); // the first load + one refetch for the whole flood
    await Promise.all(forged.map((t) => sdk.verify(t).catch(() => {})));
    expect(w.hits.jwks).toBe(2); // within the cooldown: no more requests
  });
});

describe("token binding", () => {
  it("rejects a valid token issued for another user", async () => {
    const sdk = sdkFor(w);
    w.users.set("rich", { tier: "mobile", status: "active" });
    const richToken = await w.sign("rich");
    w.sign = async () => richToken;
    await expect(sdk.forUser("victim")).rejects.toMatchObject({ code: "ERR_CLAIM_INVALID", claim: "sub" });
    expect((await sdk.check("victim", "nationwide_search")).allowed).toBe(false);
  });

  it("never uses a JWKS key that is not an Ed25519 signing key", async () => {
    const sdk = sdkFor(w);
    const encKey = await makeKey("enc-key");
    w.published = [w.signing, { ...encKey, jwk: { ...encKey.jwk, use: "enc" } }];
    const token = await signToken(validPayload(), encKey, { iat: w.clock.s });
    await expect(sdk.verify(token)).rejects.toMatchObject({ code: "ERR_KID_UNKNOWN" });
  });

  it("does not let can() say allowed on claims an attacker builds by hand for a denied status", () => {
    const handMade = { ...validPayload(), status: "suspended" } as never;
    expect(can(handMade, "nationwide_search").allowed).toBe(false);
  });
});
