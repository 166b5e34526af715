/** `verifyToken` on its own, with a key function instead of the JWKS cache. */
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "jose";
import { verifyToken, type KeySource } from "../src/index.js";
import { AUDIENCE, Clock, ISSUER, entitlementPayload, makeKey, signToken } from "./helpers.js";

const clock = new Clock();
const options = (keys: KeySource) => ({ keys, issuer: ISSUER, audience: AUDIENCE, now: clock.now });

async function tokenFor(userId: string) {
  const key = await makeKey("k1");
  const token = await signToken(entitlementPayload(userId, { tier: "local", status: "active" }), key, { iat: clock.s });
  return { key, token };
}

describe("verifyToken with a key function", () => {
  it("asks the key function for the token's kid and verifies with the key it returns", async () => {
    const { key, token } = await tokenFor("u-local");
    const asked: string[] = [];
    const claims = await verifyToken(
      token,
      options(async (kid) => (asked.push(kid), key.publicKey)),
    );
    expect(asked).toEqual(["k1"]);
    expect(claims).toMatchObject({ sub: "u-local", tier: "local" });
  });

  it("passes an error thrown by the key function through unchanged", async () => {
    const { token } = await tokenFor("u-local");
    const own = new Error("key store down");
    await expect(
      verifyToken(
        token,
        options(() => Promise.reject(own)),
      ),
    ).rejects.toBe(own);
  });

  it("rejects a key function that returns a key of another type with ERR_ALG_NOT_ALLOWED", async () => {
    const { token } = await tokenFor("u-local");
    const { publicKey } = await generateKeyPair("ES256");
    await expect(
      verifyToken(
        token,
        options(() => publicKey),
      ),
    ).rejects.toMatchObject({ code: "ERR_ALG_NOT_ALLOWED" });
  });

  it("rejects a key function that returns the private key with ERR_SIGNATURE_INVALID", async () => {
    const { key, token } = await tokenFor("u-local");
    await expect(
      verifyToken(
        token,
        options(() => key.privateKey),
      ),
    ).rejects.toMatchObject({ code: "ERR_SIGNATURE_INVALID" });
  });

  it("never calls the key function for a token whose header the policy refuses", async () => {
    const { key, token } = await tokenFor("u-local");
    const [, payload, signature] = token.split(".");
    const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: "k1", jku: "https://evil.example/jwks.json" })).toString("base64url");
    let calls = 0;
    const keys = () => (calls++, key.publicKey);
    await expect(verifyToken(`${header}.${payload}.${signature}`, options(keys))).rejects.toMatchObject({ code: "ERR_HEADER_FORBIDDEN" });
    expect(calls).toBe(0);
  });

  it("refuses a crit header naming an unknown extension with ERR_CRIT_UNSUPPORTED, without calling the key function", async () => {
    const { key, token } = await tokenFor("u-local");
    const [, payload, signature] = token.split(".");
    const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: "k1", crit: ["exp-v2"], "exp-v2": 1 })).toString("base64url");
    let calls = 0;
    const keys = () => (calls++, key.publicKey);
    await expect(verifyToken(`${header}.${payload}.${signature}`, options(keys))).rejects.toMatchObject({ code: "ERR_CRIT_UNSUPPORTED" });
    expect(calls).toBe(0);
  });
});

describe("an organization's seat", () => {
  it("exposes org_id on a seat holder's claims, and refuses a token whose org_id is not a string", async () => {
    const key = await makeKey("k1");
    const seat = { ...entitlementPayload("u-seat", { tier: "agency", status: "active" }), org_id: "org_opm" };
    const claims = await verifyToken(
      await signToken(seat, key, { iat: clock.s }),
      options(() => key.publicKey),
    );
    expect([claims.tier, claims.org_id]).toEqual(["agency", "org_opm"]);
    const own = await verifyToken(
      await signToken(entitlementPayload("u-own", { tier: "local", status: "active" }), key, { iat: clock.s }),
      options(() => key.publicKey),
    );
    expect(own.org_id).toBeUndefined();
    for (const bad of [42, "", { id: "org_opm" }]) {
      await expect(
        verifyToken(
          await signToken({ ...seat, org_id: bad }, key, { iat: clock.s }),
          options(() => key.publicKey),
        ),
      ).rejects.toMatchObject({ claim: "org_id" });
    }
  });
});
