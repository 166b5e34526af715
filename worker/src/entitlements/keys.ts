/**
 * The signing key set, from the ENTITLEMENTS_SIGNING_KEYS secret: a JWK set of Ed25519
 * private keys, each with a status. Rotation is three deploys of this secret:
 *   1. add a key with status `next`  (published in the JWKS, not used to sign);
 *   2. make it `current`, the old one `retired` (new tokens use the new kid; old ones verify);
 *   3. after the longest token lifetime, delete the retired key.
 * Verifiers therefore always know a token's key before they meet the token.
 */
import { importJWK, type JWK } from "jose";
import { z } from "zod";
import { DomainError } from "../errors";

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);

const SigningKey = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: b64url.length(43),
  d: b64url.length(43),
  kid: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "kid must be 1-64 of A-Z a-z 0-9 _ . -"),
  status: z.enum(["next", "current", "retired"]),
});
export type SigningKey = z.infer<typeof SigningKey>;

const KeySet = z
  .object({ keys: z.array(SigningKey).min(1, "add at least one key (npm run keys:generate)") })
  .refine((s) => s.keys.filter((k) => k.status === "current").length === 1, "exactly one key must have status current")
  .refine((s) => new Set(s.keys.map((k) => k.kid)).size === s.keys.length, "kids must be unique");

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export interface LoadedKeys {
  current: { kid: string; key: CryptoKey };
  jwks: { keys: PublicJwk[] };
}

/**
 * Loaded keys, kept once loaded. Only settled values are shared between requests, never a
 * pending promise: a request awaiting a load another request started would run on in that
 * request's context, which workerd cancels when that request ends. Two first requests at once
 * both import the keys; the work is small and the results are the same.
 */
const cache = new Map<string, LoadedKeys>();

export async function loadSigningKeys(secret: string): Promise<LoadedKeys> {
  const cached = cache.get(secret);
  if (cached) return cached;
  const loaded = await load(secret);
  cache.set(secret, loaded);
  return loaded;
}

async function load(secret: string): Promise<LoadedKeys> {
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    throw new DomainError("config_invalid", "ENTITLEMENTS_SIGNING_KEYS is not JSON; set it to the output of `npm run keys:generate`.", {
      errors: [{ field: "ENTITLEMENTS_SIGNING_KEYS", message: "not JSON" }],
    });
  }
  const parsed = KeySet.safeParse(json);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ field: ["ENTITLEMENTS_SIGNING_KEYS", ...i.path.map(String)].join("."), message: i.message }));
    throw new DomainError("config_invalid", `ENTITLEMENTS_SIGNING_KEYS is not a valid key set: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}.`, { errors });
  }
  const current = parsed.data.keys.find((k) => k.status === "current")!;
  const { status: _status, ...jwk } = current;
  const key = (await importJWK({ ...jwk, alg: "EdDSA" } as JWK, "EdDSA")) as CryptoKey;
  return {
    current: { kid: current.kid, key },
    jwks: { keys: parsed.data.keys.map((k) => ({ kty: "OKP", crv: "Ed25519", x: k.x, kid: k.kid, alg: "EdDSA", use: "sig" })) },
  };
}
