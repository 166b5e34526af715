/**
 * Writes a change and its audit row in one D1 batch (one transaction): either both land or
 * neither does. The audit row is chained to the head read just before; if another writer
 * appended in between, the UNIQUE(prev_hash) constraint fails the whole batch and we rebuild
 * the change on the new head.
 */
import { desc } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Clock } from "../clock";
import { builtOnce } from "../db/built-once";
import type { Db } from "../db/client";
import { isStaleRead } from "../db/guard";
import { auditLog } from "../db/schema";
import { chainRow, type AuditEntry } from "./chain";

// Each lost race means another writer won, so n racing writers need at most n attempts.
const MAX_ATTEMPTS = 40;

const head = builtOnce((db) => db.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1).prepare());

export async function readHead(db: Db): Promise<{ seq: number; hash: string } | undefined> {
  return head(db).get();
}

function isChainRace(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error) + String((error as { cause?: unknown })?.cause ?? "");
  return /UNIQUE constraint failed: audit_log\.(prev_hash|seq)/.test(text);
}

/**
 * Writers in one isolate take turns here instead of racing for the chain head; the UNIQUE retry
 * below is then only for writers in other isolates. Under a burst of webhooks this turns
 * O(n²) lost races into a queue.
 *
 * A waiter polls on its own timer rather than awaiting the holder's promise: a promise made in
 * one request and settled in another can run the waiter's continuation, and so its D1 calls, in the
 * holder's context, and when that request ends first workerd cancels them ("Promise will never
 * complete", "Cannot perform I/O on behalf of a different request").
 */
const holders = new WeakMap<object, object>();
/**
 * A holder whose request was cut off by the runtime never lets go; waiting on it forever would
 * stall every later write in the isolate. Past this, go ahead and let the UNIQUE(prev_hash)
 * check keep the chain straight.
 */
const QUEUE_PATIENCE_MS = 2_000;
const POLL_MS = 2;
async function serialized<T>(key: object, task: () => Promise<T>): Promise<T> {
  for (let waited = 0; holders.has(key) && waited < QUEUE_PATIENCE_MS; waited += POLL_MS) await new Promise((r) => setTimeout(r, POLL_MS));
  const mine = {};
  holders.set(key, mine);
  try {
    return await task();
  } finally {
    if (holders.get(key) === mine) holders.delete(key);
  }
}

/** A change and the audit entries that describe it, built fresh on every attempt. */
export interface AuditedChange<T> {
  statements: BatchItem<"sqlite">[];
  entries: AuditEntry[];
  result: T;
}

export interface AuditWriter {
  /**
   * Commits `build()`'s statements with their audit rows in one batch. `build` may read state
   * first: it runs again on the new chain head when another writer appended in between.
   */
  commit<T>(build: () => Promise<AuditedChange<T>>): Promise<T>;
}

export function auditWriter(db: Db, clock: Clock): AuditWriter {
  return { commit: (build) => serialized(db, () => commitOnce(db, clock, build)) };
}

async function commitOnce<T>(db: Db, clock: Clock, build: () => Promise<AuditedChange<T>>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { statements, entries, result } = await build();
    let head = await readHead(db);
    const rows = [];
    for (const entry of entries) {
      const row = await chainRow(head, entry, clock.now());
      rows.push(row);
      head = row;
    }
    const audit = rows.map((row) => db.insert(auditLog).values(row));
    const all = [...statements, ...audit] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];
    try {
      if (all.length > 0) await db.batch(all);
      return result;
    } catch (error) {
      // Another writer appended to the chain, or changed a row this change was computed from:
      // build it again from what is there now.
      if (attempt < MAX_ATTEMPTS && (isChainRace(error) || isStaleRead(error))) {
        // Jitter spreads the losers out so they do not collide again on the next head.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
        continue;
      }
      throw error;
    }
  }
}
