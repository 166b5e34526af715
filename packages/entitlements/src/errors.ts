/**
 * Typed errors. Every failure has its own class and a stable `code` (also available as a static
 * property, e.g. `TokenExpired.code`), so callers can branch on `err.code` or `instanceof`.
 *
 * Messages are for logs; never show them to end users verbatim (use a `Decision` instead).
 */

/** Base class of every error thrown by this package. */
export class EntitlementsError extends Error {
  static code: string = "ERR_ENTITLEMENTS";
  readonly code: string;
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    // Each class states its code once, as the static; instances read it from their class.
    this.code = (new.target as typeof EntitlementsError).code;
  }
}

/** The token is not a well-formed JWS compact serialization (segments, base64url, JSON). */
export class TokenMalformed extends EntitlementsError {
  static override code = "ERR_TOKEN_MALFORMED" as const;
  declare readonly code: "ERR_TOKEN_MALFORMED";
}

/** The token exceeds the size cap; rejected before any parsing. */
export class TokenTooLarge extends EntitlementsError {
  static override code = "ERR_TOKEN_TOO_LARGE" as const;
  declare readonly code: "ERR_TOKEN_TOO_LARGE";
}

/** The `alg` header is not `EdDSA` (e.g. `none`, `HS256`, `RS256`). */
export class AlgNotAllowed extends EntitlementsError {
  static override code = "ERR_ALG_NOT_ALLOWED" as const;
  declare readonly code: "ERR_ALG_NOT_ALLOWED";
}

/** The header carries a key or a key location (`jku`, `jwk`, `x5u`, `x5c`); keys only come from the JWKS. */
export class HeaderForbidden extends EntitlementsError {
  static override code = "ERR_HEADER_FORBIDDEN" as const;
  declare readonly code: "ERR_HEADER_FORBIDDEN";
}

/** The header has a `crit` parameter; no extension is supported. */
export class CritUnsupported extends EntitlementsError {
  static override code = "ERR_CRIT_UNSUPPORTED" as const;
  declare readonly code: "ERR_CRIT_UNSUPPORTED";
}

/** The `kid` is missing or is not in the JWKS (even after the one allowed refetch). */
export class KidUnknown extends EntitlementsError {
  static override code = "ERR_KID_UNKNOWN" as const;
  declare readonly code: "ERR_KID_UNKNOWN";
}

/** The Ed25519 signature does not verify (forged, altered or truncated token). */
export class SignatureInvalid extends EntitlementsError {
  static override code = "ERR_SIGNATURE_INVALID" as const;
  declare readonly code: "ERR_SIGNATURE_INVALID";
}

/** `exp` is in the past (beyond the clock tolerance). */
export class TokenExpired extends EntitlementsError {
  static override code = "ERR_TOKEN_EXPIRED" as const;
  declare readonly code: "ERR_TOKEN_EXPIRED";
  /** The token's `exp`, unix seconds. */
  readonly expiredAt: number;
  constructor(message: string, expiredAt: number) {
    super(message);
    this.expiredAt = expiredAt;
  }
}

/** `nbf` (or `iat`) is in the future (beyond the clock tolerance). */
export class TokenNotYetValid extends EntitlementsError {
  static override code = "ERR_TOKEN_NOT_YET_VALID" as const;
  declare readonly code: "ERR_TOKEN_NOT_YET_VALID";
}

/** A claim is wrong (`iss`, `aud`, `sub`) or the payload does not have the contract's shape. */
export class ClaimInvalid extends EntitlementsError {
  static override code = "ERR_CLAIM_INVALID" as const;
  declare readonly code: "ERR_CLAIM_INVALID";
  /** The offending claim, e.g. `"aud"` or `"limits.search_radius_miles"`. */
  readonly claim: string;
  constructor(message: string, claim: string) {
    super(message);
    this.claim = claim;
  }
}

/**
 * The token is valid but was issued to another user than the expected one (the `subject` option
 * of `verify`, the user of `forUser`/`check`, the user a middleware checks).
 *
 * A `ClaimInvalid` on the `sub` claim, with that class's code: apps that already treat
 * `ERR_CLAIM_INVALID` as "refuse this token" keep refusing it; use `instanceof SubjectMismatch`
 * to tell it apart.
 */
export class SubjectMismatch extends ClaimInvalid {
  constructor(message = "the token was issued for another user") {
    super(message, "sub");
  }
}

/** The JWKS document is not usable (not JSON, no Ed25519 signing key). */
export class JwksInvalid extends EntitlementsError {
  static override code = "ERR_JWKS_INVALID" as const;
  declare readonly code: "ERR_JWKS_INVALID";
}

/** The worker could not be reached, timed out, answered 5xx/429 or answered garbage. */
export class WorkerUnavailable extends EntitlementsError {
  static override code = "ERR_WORKER_UNAVAILABLE" as const;
  declare readonly code: "ERR_WORKER_UNAVAILABLE";
  /** HTTP status when the worker answered, otherwise undefined. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/** The worker refused the request with a 4xx problem+json (bad API key, unknown user...). */
export class WorkerRejected extends EntitlementsError {
  static override code = "ERR_WORKER_REJECTED" as const;
  declare readonly code: "ERR_WORKER_REJECTED";
  readonly status: number;
  /** The RFC 9457 problem document, when the worker sent one. */
  readonly problem: Readonly<Record<string, unknown>> | undefined;
  constructor(message: string, status: number, problem?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

/** `createEntitlements` or `verify` was given invalid options. */
export class ConfigInvalid extends EntitlementsError {
  static override code = "ERR_CONFIG_INVALID" as const;
  declare readonly code: "ERR_CONFIG_INVALID";
}

/** Every code this package can throw. */
export type EntitlementsErrorCode =
  | typeof TokenMalformed.code
  | typeof TokenTooLarge.code
  | typeof AlgNotAllowed.code
  | typeof HeaderForbidden.code
  | typeof CritUnsupported.code
  | typeof KidUnknown.code
  | typeof SignatureInvalid.code
  | typeof TokenExpired.code
  | typeof TokenNotYetValid.code
  | typeof ClaimInvalid.code
  | typeof JwksInvalid.code
  | typeof WorkerUnavailable.code
  | typeof WorkerRejected.code
  | typeof ConfigInvalid.code;
