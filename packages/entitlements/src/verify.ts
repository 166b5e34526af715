import { compactVerify, decodeProtectedHeader, errors as jose } from "jose";
import type { EntitlementClaims } from "./claims.js";
import {
  AlgNotAllowed,
  ConfigInvalid,
  CritUnsupported,
  EntitlementsError,
  HeaderForbidden,
  KidUnknown,
  SignatureInvalid,
  SubjectMismatch,
  TokenExpired,
  TokenMalformed,
  TokenNotYetValid,
  TokenTooLarge,
} from "./errors.js";
import { attachIndex } from "./internal/decide.js";
import { validateClaims } from "./internal/validate-claims.js";
import type { RemoteKeySet } from "./remote-key-set.js";

/** Where verification keys come from: a remote JWKS, or a function of the `kid`. */
export type KeySource = Pick<RemoteKeySet, "resolve" | "peek"> | ((kid: string) => CryptoKey | Promise<CryptoKey>);

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
  /**
   * The user the token must have been issued to (its `sub`), e.g. the signed-in user presenting
   * it; otherwise `SubjectMismatch`. Without this option any user's valid token is accepted.
   * When the property is present it must be a non-empty string (`ConfigInvalid` otherwise), so
   * a missing user id can never switch the check off.
   */
  subject?: string;
}

/** Header parameters that carry a key or point to one: keys only ever come from the JWKS. */
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c"] as const;
const ALGORITHMS = { algorithms: ["EdDSA"] };
/**
 * A 64-byte Ed25519 signature in canonical base64url: 86 characters, the last one carrying 4
 * unused bits that must be zero. jose's decoder ignores those bits, and this is the one segment
 * the signature does not cover, so without this check one token would have 16 spellings.
 */
const ED25519_SIGNATURE = /[A-Za-z0-9_-]{85}[AQgw]$/y;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The key for `kid`; synchronous when the JWKS cache has it (the common case). */
function keyFor(keys: KeySource, kid: string): CryptoKey | Promise<CryptoKey> {
  if (typeof keys === "function") return Promise.resolve(keys(kid)).then(ed25519Only);
  const cached = keys.peek(kid);
  return cached !== undefined ? ed25519Only(cached) : keys.resolve(kid).then(ed25519Only);
}

// jose would refuse another key type too, but with a TypeError: this keeps the typed error.
function ed25519Only(key: CryptoKey): CryptoKey {
  if (key.algorithm.name !== "Ed25519") throw new AlgNotAllowed("the resolved key is not an Ed25519 key");
  return key;
}

/** jose's errors, as this package's typed errors (the header policy has already run). */
function fromJose(err: unknown): EntitlementsError {
  if (err instanceof jose.JWSSignatureVerificationFailed) return new SignatureInvalid("signature verification failed", { cause: err });
  if (err instanceof jose.JOSEAlgNotAllowed) return new AlgNotAllowed("alg is not allowed (EdDSA only)", { cause: err });
  if (err instanceof jose.JWSInvalid || err instanceof jose.JOSENotSupported) return new TokenMalformed(err.message, { cause: err });
  // jose checks the resolved key (public, usable for verify) with TypeErrors: that key cannot
  // verify this token.
  return new SignatureInvalid("the resolved key cannot verify the signature", { cause: err });
}

/**
 * Verifies an entitlement token (JWS compact, EdDSA/Ed25519 only) and returns its claims,
 * frozen, with the decisions of `can()` precomputed. Throws a typed `EntitlementsError`.
 *
 * Order: size cap → structure → header policy (alg pinned to EdDSA, no crit, no embedded or
 * remote keys) → key by `kid` from the JWKS → signature (jose) → payload shape, `iss`, `aud` →
 * `sub` (with the `subject` option) → time.
 */
export async function verifyToken(token: string, options: VerifyOptions): Promise<EntitlementClaims> {
  const subject = options.subject;
  if ("subject" in options && (typeof subject !== "string" || subject.length === 0)) {
    throw new ConfigInvalid("subject must be a non-empty string when given");
  }
  const max = options.maxTokenBytes ?? 8192;
  if (typeof token !== "string") throw new TokenMalformed("token must be a string");
  if (token.length > max) throw new TokenTooLarge(`token exceeds ${max} bytes`);

  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf(".", dot2 + 1) !== -1) {
    throw new TokenMalformed("token must be a JWS compact serialization (header.payload.signature)");
  }

  // The header policy is stricter than jose's and must run before any key lookup or signature
  // work, so the header is read here first; jose parses the same bytes with the same parser.
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader({ protected: token.slice(0, dot1) });
  } catch (cause) {
    throw new TokenMalformed("protected header is not base64url JSON", { cause });
  }
  if (header.alg !== "EdDSA") throw new AlgNotAllowed(`alg ${JSON.stringify(header.alg)} is not allowed (EdDSA only)`);
  for (const name of FORBIDDEN_HEADERS) {
    if (header[name] !== undefined) throw new HeaderForbidden(`the "${name}" header parameter is not accepted`);
  }
  if (header.crit !== undefined) throw new CritUnsupported("the crit header parameter is not supported");
  if (header.b64 !== undefined) throw new TokenMalformed("the b64 header parameter is not supported");
  if (header.typ !== undefined && header.typ !== "JWT") throw new TokenMalformed('typ must be "JWT"');
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256) throw new KidUnknown("the kid header is missing or invalid");

  ED25519_SIGNATURE.lastIndex = dot2 + 1;
  if (!ED25519_SIGNATURE.test(token)) {
    throw new SignatureInvalid("signature is not a base64url Ed25519 signature");
  }

  // Errors of the key source (KidUnknown, WorkerUnavailable, JwksInvalid, or the caller's own)
  // pass through as they are; only jose's own errors are translated.
  let keyError = false;
  const resolveKey = () => {
    keyError = true;
    const key = keyFor(options.keys, kid);
    if (key instanceof Promise) {
      return key.then((k) => {
        keyError = false;
        return k;
      });
    }
    keyError = false;
    return key;
  };
  let bytes: Uint8Array;
  try {
    ({ payload: bytes } = await compactVerify(token, resolveKey, ALGORITHMS));
  } catch (err) {
    throw keyError || err instanceof EntitlementsError ? err : fromJose(err);
  }

  // Only reached once the signature verified: nothing in a forged payload is ever reported.
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new TokenMalformed("payload is not UTF-8 JSON");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new TokenMalformed("payload is not a JSON object");
  }

  const claims = validateClaims(payload, options.issuer, options.audience);
  if (subject !== undefined && claims.sub !== subject) throw new SubjectMismatch();

  const tolerance = options.clockTolerance ?? 30;
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  if (claims.exp <= now - tolerance) throw new TokenExpired('"exp" claim timestamp check failed', claims.exp);
  if (claims.nbf !== undefined && claims.nbf > now + tolerance) throw new TokenNotYetValid('"nbf" claim timestamp check failed');
  if (claims.iat > now + tolerance) throw new TokenNotYetValid('"iat" claim is in the future');

  return attachIndex(claims);
}
