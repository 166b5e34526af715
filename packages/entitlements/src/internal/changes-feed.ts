/**
 * The poller of the worker's entitlement changes feed (`GET /v1/entitlements/changes`): one
 * request per interval for the whole app instance, whatever the number of cached users. Each
 * user it names is handed to `onChanged` (the token manager drops that user's token), so a
 * change reaches local decisions within one interval plus one token fetch.
 *
 * Correctness rests on one rule: a token counts as covered by the feed only if it was fetched
 * after the cursor was known (the cursor is read before the token, so any change after the
 * token's read is after the cursor too). The token manager therefore waits for the first cursor
 * before its first token fetch, refetches a token whose fetch overlapped a poll that named the
 * user or a (re)start of the cursor (`generation`, `epoch`), and drops every cached token when a
 * cursor is (re)established (`onRestart`).
 */
import { EntitlementsError, WorkerRejected, WorkerUnavailable } from "../errors.js";
import { requestJson } from "./http.js";

/** The `changes` option of `createEntitlements`. */
export interface ChangesOptions {
  /** Milliseconds between two polls of the feed. Default 15 000 (at least 10). */
  intervalMs?: number;
  /**
   * Called when a poll fails after one that succeeded (or when the first one fails), with the
   * feed's state. Decisions then come from cached tokens until they expire, as without the feed;
   * `freshness()` says when it recovers. Exceptions thrown here are ignored.
   */
  onStale?: (freshness: Freshness) => void;
}

/** What `freshness()` answers: how current the token manager's decisions are. */
export interface Freshness {
  /** Whether the feed is polled: false with `changes: false`, and after `close()`. */
  readonly enabled: boolean;
  /**
   * True when the last poll failed, or no poll has read the feed for longer than two intervals
   * plus the request timeout. Decisions keep coming from cached tokens until they expire, and
   * their `as_of` stops advancing.
   */
  readonly stale: boolean;
  /**
   * When the last poll that read the feed up to its head was sent (ms, the `now` clock), or null.
   * Every change committed before it has been applied to the cached tokens.
   */
  readonly lastSuccessAt: number | null;
  /** When the last poll was sent (ms, the `now` clock), or null before the first. */
  readonly lastAttemptAt: number | null;
  /** Why the last poll failed; null when it succeeded. */
  readonly error: EntitlementsError | null;
  /** Feed requests made so far (for monitoring: one per interval, plus catch-up pages). */
  readonly requests: number;
}

export interface ChangesFeed {
  /**
   * Starts polling on first use; resolves when the first cursor is known or the first attempt
   * failed. Undefined once that has happened (nothing to wait for).
   */
  start(): Promise<void> | undefined;
  /** Bumped whenever the cursor is (re)established or dropped: tokens fetched across it are refetched. */
  readonly epoch: number;
  /** `lastSuccessAt` while a cursor is held, else null: the time up to which tokens fetched in this epoch before it are known current. */
  readonly coveredAt: number | null;
  freshness(): Freshness;
  close(): void;
}

export const DEFAULT_CHANGES_INTERVAL_MS = 15_000;
/** Rows asked per page; the worker's maximum. */
const PAGE_LIMIT = 1000;
/** Pages read in one poll before handing back to the timer (a backlog after an outage). */
const MAX_PAGES_PER_POLL = 10;
/** 1000 entries of a user id (≤ 128 characters) and a timestamp fit easily. */
const MAX_FEED_BYTES = 512 * 1024;
const CURSOR = /^(0|[1-9][0-9]{0,15})$/;

interface Page {
  /** `changed_at` is an RFC 3339 instant; only the user ids are used. */
  data: { user_id: string; changed_at: string }[];
  next_cursor: string;
  has_more: boolean;
}

/**
 * An RFC 3339 instant, as the worker writes every time. A number (Unix seconds) is what a worker
 * from before that rule sent; it is still a valid page, so an app may update the SDK first.
 */
const isInstant = (v: unknown): boolean => (typeof v === "string" && !Number.isNaN(Date.parse(v))) || typeof v === "number";

function asPage(body: unknown): Page {
  const p = body as Partial<Page> | undefined;
  if (
    typeof p !== "object" ||
    p === null ||
    !Array.isArray(p.data) ||
    typeof p.next_cursor !== "string" ||
    !CURSOR.test(p.next_cursor) ||
    typeof p.has_more !== "boolean" ||
    !p.data.every((d) => typeof d === "object" && d !== null && typeof d.user_id === "string" && isInstant(d.changed_at))
  ) {
    throw new WorkerUnavailable("changes response is not a changes page", { status: 200 });
  }
  return p as Page;
}

export function createChangesFeed(deps: {
  url: string;
  apiKey: string;
  fetch: typeof fetch;
  timeout: number;
  now: () => number;
  intervalMs: number;
  onStale: ((f: Freshness) => void) | undefined;
  /** A user the feed named: drop their token. */
  onChanged: (userId: string) => void;
  /** A cursor was (re)established or lost: no cached token is known to be covered. */
  onRestart: () => void;
}): ChangesFeed {
  const { url, apiKey, timeout, now, intervalMs } = deps;
  let cursor: string | undefined;
  let epoch = 0;
  let started = false;
  let startedAt = 0;
  let closed = false;
  let first: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSuccessAt: number | null = null;
  let lastAttemptAt: number | null = null;
  let error: EntitlementsError | null = null;
  let requests = 0;

  const get = (query: string) => {
    requests++;
    return requestJson(deps.fetch, `${url}${query}`, { apiKey, timeout, maxBytes: MAX_FEED_BYTES }, "changes request");
  };

  /** One poll: the head when no cursor is held, else every page after the cursor (up to a bound). Returns whether it reached the head. */
  async function poll(): Promise<boolean> {
    const sentAt = now();
    lastAttemptAt = sentAt;
    if (cursor === undefined) {
      const head = asPage(await get("")).next_cursor;
      if (closed) return true;
      cursor = head;
      epoch++;
      deps.onRestart();
      lastSuccessAt = sentAt;
      return true;
    }
    for (let pages = 0; pages < MAX_PAGES_PER_POLL; pages++) {
      const page = asPage(await get(`?after=${cursor}&limit=${PAGE_LIMIT}`));
      if (closed) return true;
      for (const d of page.data) deps.onChanged(d.user_id);
      cursor = page.next_cursor;
      if (!page.has_more) {
        lastSuccessAt = sentAt;
        return true;
      }
    }
    return false;
  }

  async function tick(): Promise<void> {
    timer = undefined;
    let caughtUp = true;
    const failedBefore = error !== null;
    try {
      caughtUp = await poll();
      error = null;
    } catch (err) {
      error = err instanceof EntitlementsError ? err : new WorkerUnavailable("changes request failed", { cause: err });
      // A cursor the worker refuses (another database, a restore): start again from the head,
      // and trust no cached token, since the changes in between are unknown.
      if (err instanceof WorkerRejected && err.status === 400 && cursor !== undefined) {
        cursor = undefined;
        epoch++;
        lastSuccessAt = null;
        deps.onRestart();
        caughtUp = false;
      }
      if (!failedBefore) {
        try {
          deps.onStale?.(freshness());
        } catch {
          // the app's callback must not stop the poller
        }
      }
    }
    schedule(caughtUp ? intervalMs : 0);
  }

  function schedule(delay: number): void {
    if (closed) return;
    timer = setTimeout(() => void tick(), delay);
    // Never keep a Node process alive for the poller.
    (timer as { unref?: () => void }).unref?.();
  }

  function freshness(): Freshness {
    const enabled = !closed;
    const last = lastSuccessAt ?? startedAt;
    return {
      enabled,
      stale: enabled && started && (error !== null || now() - last > 2 * intervalMs + timeout),
      lastSuccessAt,
      lastAttemptAt,
      error,
      requests,
    };
  }

  return {
    start() {
      if (closed) return undefined;
      if (!started) {
        started = true;
        startedAt = now();
        first = tick();
        void first.then(() => (first = undefined));
      }
      return first;
    },
    get epoch() {
      return epoch;
    },
    get coveredAt() {
      return cursor !== undefined ? lastSuccessAt : null;
    },
    freshness,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
