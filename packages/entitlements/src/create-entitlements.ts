import { can } from "./can.js";
import type { Decision, EntitlementClaims } from "./claims.js";
import { ConfigInvalid } from "./errors.js";
import { limit } from "./limit.js";
import { createRemoteKeySet, type RemoteKeySet } from "./remote-key-set.js";
import { verifyToken, type VerifyOptions } from "./verify.js";

/**
 * What every verifier needs: where the worker's JWKS is and what its tokens must say. The token
 * manager (`/manager`: `createTokenManager`) takes these plus its own options.
 */
export interface EntitlementsOptions {
  /** The worker's base URL, e.g. `https://billing.example.com`. Plain http only for localhost. */
  baseUrl: string;
  /** Expected `iss` of tokens. */
  issuer: string;
  /** Expected `aud` of tokens (your app). */
  audience: string;
  /** `fetch` implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Allowed clock skew for `exp`/`nbf`/`iat`, seconds. Default 30. */
  clockTolerance?: number;
  /** Minimum milliseconds between JWKS requests. Default 30 000. */
  jwksCooldown?: number;
  /** Refresh the JWKS in the background when older than this, milliseconds. Default 600 000. */
  jwksMaxAge?: number;
  /** Timeout of each request to the worker, milliseconds. Default 5 000. */
  timeout?: number;
  /** Clock in milliseconds (inject in tests). Default `Date.now`. */
  now?: () => number;
}

export interface Entitlements<F extends string = string> {
  /**
   * Verifies a token against the worker's JWKS; see `verifyToken`. Pass `{ subject: userId }`
   * when the token comes from a client: without it, any user's valid token is accepted.
   */
  verify(token: string, options?: Pick<VerifyOptions, "subject">): Promise<EntitlementClaims>;
  /** Pure, synchronous decision on verified claims. */
  can(claims: EntitlementClaims, feature: F): Decision;
  /** A numeric limit: number, `null` (unlimited) or `0` (not entitled). */
  limit(claims: EntitlementClaims, name: string): number | null;
  /** The JWKS cache (exposes `requests` for monitoring). */
  readonly keys: RemoteKeySet;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Throws `ConfigInvalid` with `message` unless `ok`. */
export function config(ok: boolean, message: string): void {
  if (!ok) throw new ConfigInvalid(message);
}

/**
 * The worker's root URL (no trailing slash) after checking it: https, or plain http to this
 * machine only, since the JWKS it serves decides which tokens are genuine.
 */
export function workerRoot(baseUrl: string): string {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new ConfigInvalid("baseUrl must be an absolute URL");
  }
  config(base.protocol === "https:" || (base.protocol === "http:" && LOCAL_HOSTS.has(base.hostname)), "baseUrl must use https (plain http is only allowed for localhost)");
  return base.href.replace(/\/+$/, "");
}

/**
 * Creates the verifier of one app (one per process; it holds the JWKS cache): tokens verified
 * against the worker's JWKS, then `can`/`limit` on their claims. Fetching tokens per user and
 * following the changes feed is the token manager's job (`/manager`).
 *
 * `F` is the union of your feature keys (the worker's catalog), e.g.
 * `createEntitlements<"local_job_search" | "nationwide_job_search">(…)`: a misspelled feature is
 * then a compile error instead of a permanent `unknown_feature` denial. Default: any string.
 */
export function createEntitlements<F extends string = string>(options: EntitlementsOptions): Entitlements<F> {
  const { issuer, audience } = options ?? ({} as EntitlementsOptions);
  const root = workerRoot(options.baseUrl);
  config(typeof issuer === "string" && issuer.length > 0, "issuer is required");
  config(typeof audience === "string" && audience.length > 0, "audience is required");
  const now = options.now ?? Date.now;
  const keys = createRemoteKeySet(`${root}/.well-known/jwks.json`, {
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    now,
    timeout: options.timeout ?? 5_000,
    ...(options.jwksCooldown !== undefined && { cooldown: options.jwksCooldown }),
    ...(options.jwksMaxAge !== undefined && { maxAge: options.jwksMaxAge }),
  });
  const verifyOptions = { keys, issuer, audience, clockTolerance: options.clockTolerance ?? 30, now };
  const verify = (token: string, opts?: Pick<VerifyOptions, "subject">) => verifyToken(token, opts !== undefined && "subject" in opts ? { ...verifyOptions, subject: opts.subject } : verifyOptions);
  return { verify, can, limit, keys };
}
