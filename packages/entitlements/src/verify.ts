import type { EntitlementClaims } from "./claims.js";
import {
  AlgNotAllowed,
  CritUnsupported,
  HeaderForbidden,
  KidUnknown,
  SignatureInvalid,
  TokenExpired,
  TokenMalformed,
  TokenNotYetValid,
  TokenTooLarge,
} from "./errors.js";
import { decodeBase64url } from "./internal/base64url.js";
import { attachIndex } from "./internal/decide.js";
import { validateClaims } from "./internal/validate-claims.js";
import type { RemoteKeySet } from "./remote-key-set.js";

/** Where verification keys come from: a remote JWKS, or a function of the `kid`. */
export type KeySource =
  | Pick<RemoteKeySet, "resolve" | "peek">
  | ((kid: string) => CryptoKey | Promise<CryptoKey>);

export interface VerifyOptions {
  keys: KeySource;
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (the token's `aud` must equal it or contain it). */
  audience: string;
  /** Allowed clock skew, seconds. Default 30. */
  clockTolerance?: number;
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Size cap in bytes (characters), checked before any parsing. Default 8192. */
  maxTokenBytes?: number;
}

/** Header parameters that carry a key or point to one: keys only ever come from the JWKS. */
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c"] as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const ascii = new TextEncoder();

function parseSegment(token: string, start: number, end: number, what: string): Record<string, unknown> {
  const bytes = decodeBase64url(token, start, end);
  if (bytes === undefined) throw new TokenMalformed(`${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new TokenMalformed(`${what} is not UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TokenMalformed(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Verifies an entitlement token (JWS compact, EdDSA/Ed25519 only) and returns its claims,
 * frozen, with the decisions of `can()` precomputed. Throws a typed `EntitlementsError`.
 *
 * Order: size cap → structure → header policy (alg pinned to EdDSA, no crit, no embedded or
 * remote keys) → key by `kid` from the JWKS → signature → payload shape, `iss`, `aud` → time.
 */
export async function verifyToken(token: string, options: VerifyOptions): Promise<EntitlementClaims> {
  const max = options.maxTokenBytes ?? 8192;
  if (typeof token !== "string") throw new TokenMalformed("token must be a string");
  if (token.length > max) throw new TokenTooLarge(`token exceeds ${max} bytes`);

  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf(".", dot2 + 1) !== -1) {
    throw new TokenMalformed("token must be a JWS compact serialization (header.payload.signature)");
  }

  const header = parseSegment(token, 0, dot1, "protected header");
  if (header.alg !== "EdDSA") throw new AlgNotAllowed(`alg ${JSON.stringify(header.alg)} is not allowed (EdDSA only)`);
  for (const name of FORBIDDEN_HEADERS) {
    if (header[name] !== undefined) throw new HeaderForbidden(`the "${name}" header parameter is not accepted`);
  }
  if (header.crit !== undefined) throw new CritUnsupported("the crit header parameter is not supported");
  if (header.b64 !== undefined) throw new TokenMalformed("the b64 header parameter is not supported");
  if (header.typ !== undefined && header.typ !== "JWT") throw new TokenMalformed('typ must be "JWT"');
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256) throw new KidUnknown("the kid header is missing or invalid");

  const signature = decodeBase64url(token, dot2 + 1);
  if (signature === undefined || signature.length !== 64) throw new SignatureInvalid("signature is not a base64url Ed25519 signature");

  const keys = options.keys;
  let key: CryptoKey;
  if (typeof keys === "function") {
    key = await keys(kid);
  } else {
    key = keys.peek(kid) ?? (await keys.resolve(kid));
  }

  if (key.algorithm.name !== "Ed25519") throw new AlgNotAllowed("the resolved key is not an Ed25519 key");

  // Start the signature check (WebCrypto runs it off the main thread), then parse the payload
  // while it runs. Nothing from the payload is used, nor any parsing error reported, unless the
  // signature verifies: a forged token always fails with ERR_SIGNATURE_INVALID.
  const pending = crypto.subtle.verify(key.algorithm.name, key, signature, ascii.encode(token.slice(0, dot2)));
  let payload: Record<string, unknown> | undefined;
  let parseError: unknown;
  try {
    payload = parseSegment(token, dot1 + 1, dot2, "payload");
  } catch (err) {
    parseError = err;
  }
  let ok: boolean;
  try {
    ok = await pending;
  } catch (cause) {
    throw new SignatureInvalid("signature verification failed", { cause });
  }
  if (!ok) throw new SignatureInvalid("signature verification failed");
  if (payload === undefined) throw parseError;

  const claims = validateClaims(payload, options.issuer, options.audience);

  const tolerance = options.clockTolerance ?? 30;
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  if (claims.exp <= now - tolerance) throw new TokenExpired('"exp" claim timestamp check failed', claims.exp);
  if (claims.nbf !== undefined && claims.nbf > now + tolerance) throw new TokenNotYetValid('"nbf" claim timestamp check failed');
  if (claims.iat > now + tolerance) throw new TokenNotYetValid('"iat" claim is in the future');

  return attachIndex(claims);
}
