import { can } from "./can.js";
import type { Decision, EntitlementClaims } from "./claims.js";
import { ConfigInvalid, EntitlementsError, WorkerUnavailable } from "./errors.js";
import { createChangesFeed, DEFAULT_CHANGES_INTERVAL_MS, type ChangesFeed, type ChangesOptions, type Freshness } from "./internal/changes-feed.js";
import { unavailable } from "./internal/decide.js";
import { requestJson } from "./internal/http.js";
import { limit } from "./limit.js";
import { createRemoteKeySet, type RemoteKeySet } from "./remote-key-set.js";
import { verifyToken, type VerifyOptions } from "./verify.js";

export type { ChangesOptions, Freshness } from "./internal/changes-feed.js";

/**
 * `F` is the union of your feature keys (the worker's catalog), e.g.
 * `createEntitlements<"local_job_search" | "nationwide_job_search">(…)`: a misspelled feature is
 * then a compile error instead of a permanent `unknown_feature` denial. Default: any string.
 */
export interface EntitlementsOptions<F extends string = string> {
  /** The worker's base URL, e.g. `https://billing.example.com`. Plain http only for localhost. */
  baseUrl: string;
  /** A `service` API key of the worker (sent as a Bearer token to the token and changes endpoints only). */
  apiKey: string;
  /** Expected `iss` of tokens. */
  issuer: string;
  /** Expected `aud` of tokens (your app). */
  audience: string;
  /** `fetch` implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Allowed clock skew for `exp`/`nbf`/`iat`, seconds. Default 30. */
  clockTolerance?: number;
  /** Features allowed when the worker is unreachable and no valid token remains. Default none (fail closed). */
  failOpen?: readonly F[];
  /** Refresh a cached token this many seconds before it expires. Default 60. */
  refreshBefore?: number;
  /** Minimum milliseconds between JWKS requests. Default 30 000. */
  jwksCooldown?: number;
  /** Refresh the JWKS in the background when older than this, milliseconds. Default 600 000. */
  jwksMaxAge?: number;
  /** Timeout of each request to the worker, milliseconds. Default 5 000. */
  timeout?: number;
  /** Maximum number of users whose token is cached (oldest evicted first). Default 10 000. */
  maxUsers?: number;
  /** Longest wait between two token requests for a user while the worker fails, ms. Default 30 000. */
  maxRetryDelay?: number;
  /** Clock in milliseconds (inject in tests). Default `Date.now`. */
  now?: () => number;
  /**
   * The changes feed: the token manager polls `GET /v1/entitlements/changes` (one request per
   * interval for the whole instance, with `apiKey`, which needs `entitlements:read`) and drops the
   * cached token of every user it names, so a cancellation, suspension or upgrade reaches
   * decisions within one interval plus one token fetch instead of at token expiry. Polling starts
   * with the first `forUser`/`check`/`evaluate` and never keeps a Node process alive. `false`
   * turns it off (decisions then change when tokens are refreshed, as before). Default on, every
   * 15 s.
   */
  changes?: false | ChangesOptions;
}

/** What `evaluate()` returns: the decision plus what it was based on. */
export interface Evaluation {
  readonly decision: Decision;
  /** The verified claims, or `null` when none were available. */
  readonly claims: EntitlementClaims | null;
  /** Why no claims were available. */
  readonly error: EntitlementsError | null;
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
  /**
   * The user's verified claims: from cache, refreshed ahead of expiry in the background, fetched
   * once for concurrent callers. While the worker is unreachable the last valid token is used
   * until it expires; then this rejects with `WorkerUnavailable` (or the verification error).
   */
  forUser(userId: string): Promise<EntitlementClaims>;
  /** `forUser` + `can`; never rejects for entitlement errors (answers `unavailable` instead). */
  check(userId: string, feature: F): Promise<Decision>;
  /** Like `check`, with the claims and the error behind the decision. */
  evaluate(userId: string, feature: F): Promise<Evaluation>;
  /**
   * Drops cached tokens (one user, or everyone), e.g. right after a checkout completes, or when
   * the worker pushes an `entitlement.changed` (`applyWebhook` of `/webhooks` calls this). A
   * user's token fetch already under way is made again: it may predate the change.
   */
  invalidate(userId?: string): void;
  /** How current the token manager's decisions are: the changes feed's last successful poll and error. */
  freshness(): Freshness;
  /** Stops polling the changes feed (cached tokens keep answering until they expire). Idempotent. */
  close(): void;
  /** The JWKS cache (exposes `requests` for monitoring). */
  readonly keys: RemoteKeySet;
}

interface Entry {
  claims: EntitlementClaims | undefined;
  inflight: Promise<EntitlementClaims> | undefined;
  failures: number;
  retryAt: number;
  lastError: EntitlementsError | undefined;
  /** When `claims` arrived (ms), and the feed's epoch then: what a later poll can vouch for. */
  fetchedAt: number;
  epoch: number;
  /** Bumped when the feed names the user: a token fetch that overlapped it is fetched again. */
  generation: number;
  /** Decisions of `claims` with a later `as_of` than `iat`, keyed by the claims' own decision. */
  asOf: number;
  decisions: Map<Decision, Decision> | undefined;
}

const MAX_RESPONSE_BYTES = 16 * 1024;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function config(ok: boolean, message: string): void {
  if (!ok) throw new ConfigInvalid(message);
}

/** Creates the entitlements client of one app (one per process; it holds the caches). */
export function createEntitlements<F extends string = string>(options: EntitlementsOptions<F>): Entitlements<F> {
  const { apiKey, issuer, audience } = options ?? ({} as EntitlementsOptions<F>);
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new ConfigInvalid("baseUrl must be an absolute URL");
  }
  config(base.protocol === "https:" || (base.protocol === "http:" && LOCAL_HOSTS.has(base.hostname)), "baseUrl must use https (plain http is only allowed for localhost)");
  config(typeof apiKey === "string" && apiKey.length > 0, "apiKey is required");
  config(typeof issuer === "string" && issuer.length > 0, "issuer is required");
  config(typeof audience === "string" && audience.length > 0, "audience is required");

  const root = base.href.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? Date.now;
  const clockTolerance = options.clockTolerance ?? 30;
  const refreshBefore = options.refreshBefore ?? 60;
  const timeout = options.timeout ?? 5_000;
  const maxUsers = options.maxUsers ?? 10_000;
  const maxRetryDelay = options.maxRetryDelay ?? 30_000;
  const failOpen = new Set<string>(options.failOpen ?? []);
  const tokenUrl = `${root}/v1/entitlements/token`;
  const changesOptions = options.changes === false ? undefined : (options.changes ?? {});
  const intervalMs = changesOptions?.intervalMs ?? DEFAULT_CHANGES_INTERVAL_MS;
  config(options.changes === undefined || options.changes === false || (typeof options.changes === "object" && options.changes !== null), "changes must be false or an object");
  config(Number.isFinite(intervalMs) && intervalMs >= 10, "changes.intervalMs must be a number of milliseconds, at least 10");

  const keys = createRemoteKeySet(`${root}/.well-known/jwks.json`, {
    fetch: doFetch,
    now,
    timeout,
    ...(options.jwksCooldown !== undefined && { cooldown: options.jwksCooldown }),
    ...(options.jwksMaxAge !== undefined && { maxAge: options.jwksMaxAge }),
  });
  const verifyOptions = { keys, issuer, audience, clockTolerance, now };
  const verify = (token: string, opts?: Pick<VerifyOptions, "subject">) => verifyToken(token, opts !== undefined && "subject" in opts ? { ...verifyOptions, subject: opts.subject } : verifyOptions);

  const entries = new Map<string, Entry>();

  /** The user's entitlement changed (the feed named them, a webhook said so, or the app knows). */
  function changed(userId: string): void {
    const entry = entries.get(userId);
    if (entry === undefined) return;
    entry.generation++;
    entry.claims = undefined; // the next decision fetches a new token
    entry.decisions = undefined;
  }

  async function fetchToken(userId: string): Promise<EntitlementClaims> {
    const body = await requestJson(doFetch, tokenUrl, { apiKey, timeout, maxBytes: MAX_RESPONSE_BYTES, body: JSON.stringify({ user_id: userId }) }, "token request");
    const token = (body as { token?: unknown } | undefined)?.token;
    if (typeof token !== "string") throw new WorkerUnavailable("token response has no token", { status: 200 });
    return verifyToken(token, { ...verifyOptions, subject: userId });
  }

  const feed: ChangesFeed | undefined =
    changesOptions === undefined
      ? undefined
      : createChangesFeed({
          url: `${root}/v1/entitlements/changes`,
          apiKey,
          fetch: doFetch,
          timeout,
          now,
          intervalMs,
          onStale: changesOptions.onStale,
          onChanged: changed,
          onRestart() {
            // No cached token is known to follow the feed from its new cursor.
            for (const entry of entries.values()) {
              entry.claims = undefined;
              entry.decisions = undefined;
            }
          },
        });

  /** A token fetched after the feed's cursor and after every change it has named for the user. */
  async function fetchCovered(userId: string, entry: Entry): Promise<EntitlementClaims> {
    const first = feed?.start();
    if (first !== undefined) await first; // the cursor is read before the first token
    for (;;) {
      const generation = entry.generation;
      const epoch = feed?.epoch ?? 0;
      const claims = await fetchToken(userId);
      // A poll named the user, or the cursor restarted, while the token was on its way: it may
      // predate that change. Fetch again (a poll names a user at most once per interval).
      if (entry.generation === generation && (feed?.epoch ?? 0) === epoch) {
        entry.epoch = epoch;
        return claims;
      }
    }
  }

  function refresh(userId: string, entry: Entry): Promise<EntitlementClaims> {
    const p = fetchCovered(userId, entry).then(
      (claims) => {
        entry.claims = claims;
        entry.fetchedAt = now();
        entry.decisions = undefined;
        entry.failures = 0;
        entry.retryAt = 0;
        entry.lastError = undefined;
        entry.inflight = undefined;
        return claims;
      },
      (err: unknown) => {
        entry.inflight = undefined;
        entry.failures++;
        entry.retryAt = now() + Math.min(maxRetryDelay, 500 * 2 ** entry.failures);
        entry.lastError = err instanceof EntitlementsError ? err : new WorkerUnavailable("token request failed", { cause: err });
        throw entry.lastError;
      },
    );
    entry.inflight = p;
    return p;
  }

  function usable(c: EntitlementClaims, t: number): boolean {
    return c.exp > Math.floor(t / 1000) - clockTolerance;
  }

  function forUser(userId: string): Promise<EntitlementClaims> {
    if (typeof userId !== "string" || userId.length === 0 || userId.length > 256) {
      return Promise.reject(new TypeError("userId must be a non-empty string (at most 256 characters)"));
    }
    const t = now();
    let entry = entries.get(userId);
    if (entry === undefined) {
      entry = { claims: undefined, inflight: undefined, failures: 0, retryAt: 0, lastError: undefined, fetchedAt: 0, epoch: 0, generation: 0, asOf: 0, decisions: undefined };
      entries.set(userId, entry);
      if (entries.size > maxUsers) {
        for (const [k, e] of entries) {
          if (entries.size <= maxUsers) break;
          if (e.inflight === undefined && k !== userId) entries.delete(k);
        }
      }
    }
    const claims = entry.claims;
    if (claims !== undefined) {
      if (usable(claims, t)) {
        if (Math.floor(t / 1000) >= claims.exp - refreshBefore && entry.inflight === undefined && t >= entry.retryAt) {
          refresh(userId, entry).catch(() => {}); // ahead of expiry, in the background
        }
        return Promise.resolve(claims);
      }
      entry.claims = undefined; // expired: never hand it out again
    }
    if (entry.inflight !== undefined) return entry.inflight;
    if (t < entry.retryAt && entry.lastError !== undefined) return Promise.reject(entry.lastError);
    return refresh(userId, entry);
  }

  /**
   * `can()` with `as_of` moved up to the feed's last poll when that poll vouches for the token
   * (same epoch, sent after the token arrived). Such decisions are made once per claims, feature
   * answer and poll, so a decision on cached claims allocates nothing in between.
   */
  function decide(userId: string, claims: EntitlementClaims, feature: string): Decision {
    const base = can(claims, feature);
    const coveredAt = feed?.coveredAt ?? null;
    if (coveredAt === null) return base;
    const entry = entries.get(userId);
    if (entry === undefined || entry.claims !== claims || entry.epoch !== feed!.epoch || entry.fetchedAt > coveredAt) return base;
    const asOf = Math.floor(coveredAt / 1000);
    if (asOf <= claims.iat) return base;
    if (entry.decisions === undefined || entry.asOf !== asOf) {
      if (entry.decisions === undefined) entry.decisions = new Map();
      else entry.decisions.clear();
      entry.asOf = asOf;
    }
    let d = entry.decisions.get(base);
    if (d === undefined) entry.decisions.set(base, (d = Object.freeze({ ...base, as_of: asOf })));
    return d;
  }

  async function evaluate(userId: string, feature: string): Promise<Evaluation> {
    try {
      const claims = await forUser(userId);
      return { decision: decide(userId, claims, feature), claims, error: null };
    } catch (err) {
      if (!(err instanceof EntitlementsError)) throw err;
      return { decision: unavailable(err.code, failOpen.has(feature)), claims: null, error: err };
    }
  }

  async function check(userId: string, feature: string): Promise<Decision> {
    return (await evaluate(userId, feature)).decision;
  }

  function invalidate(userId?: string): void {
    if (userId === undefined) entries.clear();
    else changed(userId);
  }

  function freshness(): Freshness {
    if (feed !== undefined) return feed.freshness();
    return { enabled: false, stale: false, lastSuccessAt: null, lastAttemptAt: null, error: null, requests: 0 };
  }

  function close(): void {
    feed?.close();
  }

  return { verify, can, limit, forUser, check, evaluate, invalidate, freshness, close, keys };
}
