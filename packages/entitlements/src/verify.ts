import { compactVerify } from "jose";
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

/**
 * The header policy, on the header jose parsed (jose has already pinned `alg` to EdDSA and
 * refused any `crit` other than its own `b64`). Returns the `kid`.
 */
function headerPolicy(header: Record<string, unknown>): string {
  for (const name of FORBIDDEN_HEADERS) {
    if (header[name] !== undefined) throw new HeaderForbidden(`the "${name}" header parameter is not accepted`);
  }
  if (header.crit !== undefined) throw new CritUnsupported("the crit header parameter is not supported");
  if (header.b64 !== undefined) throw new TokenMalformed("the b64 header parameter is not supported");
  if (header.typ !== undefined && header.typ !== "JWT") throw new TokenMalformed('typ must be "JWT"');
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 256) throw new KidUnknown("the kid header is missing or invalid");
  return kid;
}

/**
 * jose's errors, as this package's typed errors, by their documented `code` (jose's root entry
 * exports its error classes only as one namespace, which would bundle every one of them). Before
 * the key callback jose has only read the header: a `crit` naming an unknown extension (the one
 * "not supported" error it throws there), an `alg` other than EdDSA, or a header that is not
 * base64url JSON with a string `alg`.
 */
function fromJose(err: unknown, headerRead: boolean): EntitlementsError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return new SignatureInvalid("signature verification failed", { cause: err });
  if (code === "ERR_JOSE_ALG_NOT_ALLOWED") return new AlgNotAllowed("alg is not allowed (EdDSA only)", { cause: err });
  if (code === "ERR_JOSE_NOT_SUPPORTED" && !headerRead) return new CritUnsupported("the crit header parameter is not supported", { cause: err });
  if (code === "ERR_JWS_INVALID" || code === "ERR_JOSE_NOT_SUPPORTED") return new TokenMalformed((err as Error).message, { cause: err });
  // jose checks the resolved key (public, usable for verify) with TypeErrors: that key cannot
  // verify this token.
  return new SignatureInvalid("the resolved key cannot verify the signature", { cause: err });
}

/**
 * Verifies an entitlement token (JWS compact, EdDSA/Ed25519 only) and returns its claims,
 * frozen, with the decisions of `can()` precomputed. Throws a typed `EntitlementsError`.
 *
 * Order: size cap → structure → header (parsed by jose: `alg` pinned to EdDSA, no `crit`; then
 * this package's policy: no embedded or remote keys, `typ`, `kid`) → canonical signature → key by
 * `kid` from the JWKS → signature (jose) → payload shape, `iss`, `aud` → `sub` (with the
 * `subject` option) → time.
 */
export async function verifyToken(token: string, options: VerifyOptions): Promise<EntitlementClaims> {
  const subject = options.subject;
  if ("subject" in options && (typeof subject !== "string" || subject.length === 0)) {
    throw new ConfigInvalid("subject must be a non-empty string when given");
  }
  const max = options.maxTokenBytes ?? 8192;
  if (typeof token !== "string") throw new TokenMalformed("token must be a string");
  if (token.length > max) throw new TokenTooLarge(`token exceeds ${max} bytes`);

  // jose parses the header once and hands it to this callback before any signature work: the
  // header policy runs here, then the signature's shape, then the key lookup. Errors of the
  // policy and of the key source (KidUnknown, WorkerUnavailable, JwksInvalid, or the caller's
  // own) pass through as they are; only jose's own errors are translated.
  let headerRead = false;
  let keyError = false;
  const resolveKey = (header: Record<string, unknown>) => {
    headerRead = true;
    const kid = headerPolicy(header);
    ED25519_SIGNATURE.lastIndex = token.lastIndexOf(".") + 1;
    if (!ED25519_SIGNATURE.test(token)) throw new SignatureInvalid("signature is not a base64url Ed25519 signature");
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
    throw keyError || err instanceof EntitlementsError ? err : fromJose(err, headerRead);
  }

  // Only reached once the signature verified: nothing in a forged payload is ever reported.
  let payload: Record<string, unknown>;
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
