/**
 * The entitlement changes feed: which users' entitlements changed after a cursor, so an app that
 * caches tokens (the SDK) drops the stale ones within one poll instead of at token expiry.
 *
 * Every write of an `entitlements` row adds an `entitlement_changes` row in the same batch
 * (state.ts `upsertEntitlement`). The cursor is the last `seq` a reader has seen, as a decimal
 * string; D1 commits one write at a time, so the rows a reader sees are always a prefix of the
 * sequence and resuming after a cursor misses nothing.
 */
import { gt, max, min } from "drizzle-orm";
import { entitlementChanges } from "../db/schema";
import { DomainError } from "../errors";
import { CHANGES_RETENTION_MS } from "./prune-changes";
import type { Services } from "../services";

/** A cursor: `0` (an empty feed) or a positive seq, at most 15 digits (a safe integer). */
export const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,14})$/;
export const DEFAULT_CHANGES_LIMIT = 500;
export const MAX_CHANGES_LIMIT = 1000;

export interface EntitlementChange {
  user_id: string;
  /** Unix ms of the user's newest change in the page. */
  changed_at: number;
}

export interface EntitlementChangesPage {
  /** One entry per user, ordered by that user's newest change in the page. */
  data: EntitlementChange[];
  /** Pass as `after` to read on; the head of the feed when the page is its end. */
  next_cursor: string;
  has_more: boolean;
}

/**
 * The changes after `after` (at most `limit` change rows, folded to one entry per user). Without
 * `after`, no data and the current head: a reader starts from now. A cursor beyond the head
 * (from another database, or made up) is refused, naming `after`: a reader holding one would
 * otherwise wait, without knowing, until the feed caught up with it.
 */
export async function listEntitlementChanges(s: Pick<Services, "db">, opts: { after?: string | undefined; limit?: number | undefined }): Promise<EntitlementChangesPage> {
  const limit = opts.limit ?? DEFAULT_CHANGES_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHANGES_LIMIT) {
    throw new DomainError("validation_failed", `limit must be an integer from 1 to ${MAX_CHANGES_LIMIT}.`, { errors: [{ field: "limit", message: `must be 1-${MAX_CHANGES_LIMIT}` }] });
  }
  const headQuery = s.db.select({ head: max(entitlementChanges.seq), oldest: min(entitlementChanges.seq) }).from(entitlementChanges);
  if (opts.after === undefined) {
    const row = await headQuery.get();
    return { data: [], next_cursor: String(row?.head ?? 0), has_more: false };
  }
  if (!CURSOR_PATTERN.test(opts.after)) {
    throw new DomainError("validation_failed", "after must be a cursor from next_cursor of an earlier answer.", { errors: [{ field: "after", message: "not a cursor" }] });
  }
  const after = Number(opts.after);
  // One batch, one snapshot: the page and the head agree.
  const [rows, [headRow]] = await s.db.batch([
    s.db
      .select({ seq: entitlementChanges.seq, userId: entitlementChanges.userId, changedAt: entitlementChanges.changedAt })
      .from(entitlementChanges)
      .where(gt(entitlementChanges.seq, after))
      .orderBy(entitlementChanges.seq)
      .limit(limit + 1),
    headQuery,
  ]);
  const head = headRow?.head ?? 0;
  if (after > head) {
    throw new DomainError("validation_failed", `The cursor ${after} is ahead of the feed (its head is ${head}): start again without after.`, {
      errors: [{ field: "after", message: "ahead of the feed's head" }],
    });
  }
  // Changes after the cursor were pruned (the feed keeps a week): the reader cannot know whom
  // they named, so it must start again and trust none of what it cached.
  const oldest = headRow?.oldest ?? null;
  if (oldest !== null && after < oldest - 1) {
    throw new DomainError(
      "validation_failed",
      `The cursor ${after} is older than the feed keeps (changes are kept ${CHANGES_RETENTION_MS / 86_400_000} days; the oldest now is ${oldest}): start again without after, and treat every cached entitlement as out of date.`,
      {
        errors: [{ field: "after", message: "older than the feed keeps", code: "cursor_expired" }],
      },
    );
  }
  const page = rows.slice(0, limit);
  const newest = new Map<string, number>();
  for (const r of page) {
    newest.delete(r.userId); // re-inserted last: the order is each user's newest change
    newest.set(r.userId, r.changedAt);
  }
  return {
    data: [...newest].map(([user_id, changed_at]) => ({ user_id, changed_at })),
    next_cursor: String(page.at(-1)?.seq ?? after),
    has_more: rows.length > limit,
  };
}
