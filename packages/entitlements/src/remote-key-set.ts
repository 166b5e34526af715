import { JwksInvalid, KidUnknown, WorkerRejected, WorkerUnavailable } from "./errors.js";
import { requestJson } from "./internal/http.js";

export interface RemoteKeySetOptions {
  /** `fetch` implementation; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Minimum milliseconds between two JWKS requests (unknown `kid` refetches). Default 30 000. */
  cooldown?: number;
  /** Milliseconds after which a cached JWKS is refreshed in the background. Default 600 000. */
  maxAge?: number;
  /** Request timeout, milliseconds. Default 5 000. */
  timeout?: number;
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Resolves a `kid` to an Ed25519 verification key from the worker's JWKS. */
export interface RemoteKeySet {
  /** The key for `kid`, fetching the JWKS at most once per cooldown when the `kid` is unknown. */
  resolve(kid: string): Promise<CryptoKey>;
  /** The cached key for `kid`, without any I/O. */
  peek(kid: string): CryptoKey | undefined;
  /** Fetches the JWKS now (single-flight). */
  reload(): Promise<void>;
  /** Number of JWKS requests made so far (for monitoring and tests). */
  readonly requests: number;
}

const MAX_JWKS_BYTES = 64 * 1024;

interface Entry {
  readonly x: string;
  readonly key: CryptoKey;
}

/**
 * A cached, rate-limited view of a remote JWKS that only ever yields Ed25519 signing keys
 * (`kty: "OKP"`, `crv: "Ed25519"`, `alg` absent or `EdDSA`, `use` absent or `sig`).
 */
export function createRemoteKeySet(url: string | URL, options: RemoteKeySetOptions = {}): RemoteKeySet {
  const href = String(url);
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const cooldown = options.cooldown ?? 30_000;
  const maxAge = options.maxAge ?? 600_000;
  const timeout = options.timeout ?? 5_000;
  const now = options.now ?? Date.now;

  let keys = new Map<string, Entry>();
  let loadedAt = -Infinity;
  let attemptedAt = -Infinity;
  let inflight: Promise<void> | undefined;
  let requests = 0;

  async function load(): Promise<void> {
    requests++;
    attemptedAt = now();
    let doc: unknown;
    try {
      doc = await requestJson(doFetch, href, { timeout, maxBytes: MAX_JWKS_BYTES }, "JWKS request");
    } catch (err) {
      // The JWKS is public and never refused: any failure to read it is the worker being unavailable.
      throw err instanceof WorkerRejected ? new WorkerUnavailable(err.message, { status: err.status }) : err;
    }
    const list = (doc as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new JwksInvalid('JWKS is not JSON (at most 64 KiB) with a "keys" array');
    const next = new Map<string, Entry>();
    for (const jwk of list) {
      if (typeof jwk !== "object" || jwk === null) continue;
      const { kty, crv, x, kid, alg, use, d } = jwk as Record<string, unknown>;
      if (kty !== "OKP" || crv !== "Ed25519" || typeof x !== "string" || typeof kid !== "string" || kid.length === 0) continue;
      if ((alg !== undefined && alg !== "EdDSA") || (use !== undefined && use !== "sig") || d !== undefined) continue;
      if (next.has(kid)) continue; // first wins; a duplicate kid never replaces a key
      const known = keys.get(kid);
      if (known !== undefined && known.x === x) {
        next.set(kid, known);
        continue;
      }
      try {
        // The fields are checked above, so this is WebCrypto's own Ed25519 JWK import, which is
        // all jose's importJWK would do here (without pulling its tables of every JWA algorithm).
        const key = await crypto.subtle.importKey("jwk", { kty, crv, x }, "Ed25519", false, ["verify"]);
        next.set(kid, { x, key });
      } catch {
        // an unusable key is skipped; the others stay valid
      }
    }
    if (next.size === 0) throw new JwksInvalid("JWKS has no usable Ed25519 signing key");
    keys = next;
    loadedAt = now();
  }

  function reload(): Promise<void> {
    if (inflight === undefined) {
      inflight = load().finally(() => {
        inflight = undefined;
      });
    }
    return inflight;
  }

  function peek(kid: string): CryptoKey | undefined {
    const hit = keys.get(kid);
    if (hit !== undefined && inflight === undefined) {
      const t = now();
      if (t - loadedAt > maxAge && t - attemptedAt >= cooldown) reload().catch(() => {}); // stale-while-revalidate
    }
    return hit?.key;
  }

  async function resolve(kid: string): Promise<CryptoKey> {
    const hit = peek(kid);
    if (hit !== undefined) return hit;
    if (inflight === undefined && now() - attemptedAt < cooldown) {
      // Rate limited: do not let unknown kids trigger a request each.
      if (loadedAt === -Infinity) throw new WorkerUnavailable("JWKS unavailable (retrying after cooldown)");
      throw new KidUnknown("no key in the JWKS matches the token's kid");
    }
    try {
      await reload();
    } catch (err) {
      if (loadedAt === -Infinity || err instanceof JwksInvalid) throw err;
      // Keys are cached but the refetch failed: the kid is still unknown.
      throw new KidUnknown("no key in the JWKS matches the token's kid (JWKS refetch failed)");
    }
    const key = keys.get(kid);
    if (key === undefined) throw new KidUnknown("no key in the JWKS matches the token's kid");
    return key.key;
  }

  return {
    resolve,
    peek,
    reload,
    get requests() {
      return requests;
    },
  };
}
