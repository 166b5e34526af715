/**
 * Reading the audit chain back: walking it row by row from a known point, and comparing it with
 * a checkpoint of its head. Shared by `verify` (the whole chain, for an operator) and the
 * checkpoint cron (only the rows since the last checkpoint, before it signs a new head).
 */
import { asc, desc, eq, gt } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditCheckpoints, auditLog } from "../db/schema";
import type { Checkpoint } from "./checkpoint-key";
import { GENESIS_HASH, rowHash } from "./chain";

/** Stable values for `first_broken.reason`; clients branch on them. */
export const BREAK_REASONS = ["hash_mismatch", "prev_hash_mismatch", "missing_row", "tail_missing", "checkpoint_mismatch", "checkpoint_forged"] as const;
export type BreakReason = (typeof BREAK_REASONS)[number];

/** The first place the chain does not fit, and a sentence a person can act on. */
export interface ChainBreak {
  seq: number;
  reason: BreakReason;
  detail: string;
}

export interface Head {
  seq: number;
  hash: string;
}

/** Where a walk of the whole chain starts: before row 1, whose prev_hash is the genesis hash. */
export const GENESIS: Head = { seq: 0, hash: GENESIS_HASH };

const PAGE = 500;

/**
 * Walks the rows after `from` in pages (so a long log stays within a Worker's CPU and memory
 * limits) and stops at the first that does not follow: a gap in seq, a prev_hash that is not the
 * previous row's hash, or a hash that is not the row's. `head` is the last row that fit.
 */
export async function walkChain(db: Db, from: Head): Promise<{ checked: number; head: Head | null; broken: ChainBreak | null }> {
  let expectedSeq = from.seq + 1;
  let prevHash = from.hash;
  let checked = 0;
  let head: Head | null = null;
  for (;;) {
    const rows = await db
      .select()
      .from(auditLog)
      .where(gt(auditLog.seq, expectedSeq - 1))
      .orderBy(asc(auditLog.seq))
      .limit(PAGE)
      .all();
    for (const row of rows) {
      if (row.seq !== expectedSeq) return { checked, head, broken: { seq: expectedSeq, reason: "missing_row", detail: `Row ${expectedSeq} is missing: it was deleted.` } };
      if (row.prevHash !== prevHash) {
        return { checked, head, broken: { seq: row.seq, reason: "prev_hash_mismatch", detail: `Row ${row.seq} does not link to the row before it: the chain was re-linked.` } };
      }
      if ((await rowHash(row)) !== row.hash) {
        return { checked, head, broken: { seq: row.seq, reason: "hash_mismatch", detail: `Row ${row.seq} no longer matches its hash: it was changed after it was written.` } };
      }
      checked++;
      prevHash = row.hash;
      head = { seq: row.seq, hash: row.hash };
      expectedSeq++;
    }
    if (rows.length < PAGE) return { checked, head, broken: null };
  }
}

export async function latestCheckpoint(db: Db): Promise<(Checkpoint & { mac: string }) | null> {
  return (await db.select().from(auditCheckpoints).orderBy(desc(auditCheckpoints.seq)).limit(1).get()) ?? null;
}

/**
 * The chain against a checkpoint `{seq, hash}` of an earlier head, given the chain's head now.
 * Rows up to a checkpoint are covered by its hash (each hash covers the one before), so if the
 * row at its seq still has that hash, nothing up to it changed; what the hash chain alone cannot
 * show, a checkpoint can: a head below its seq (the newest rows were deleted) or another hash at
 * its seq (the chain was recomputed, or cut and appended to, since).
 * @param name how the detail names the checkpoint ("the checkpoint of <time>", "the given checkpoint")
 */
export async function compareWithCheckpoint(db: Db, checkpoint: Head, head: Head | null, name: string): Promise<ChainBreak | null> {
  if (!head || head.seq < checkpoint.seq) {
    const last = head?.seq ?? 0;
    return {
      seq: last + 1,
      reason: "tail_missing",
      detail: `Rows missing after seq ${last}: ${name} covers seq ${checkpoint.seq}, but the chain now ends at seq ${last}. The newest rows were deleted.`,
    };
  }
  const row = await db.select({ hash: auditLog.hash }).from(auditLog).where(eq(auditLog.seq, checkpoint.seq)).get();
  if (!row) return { seq: checkpoint.seq, reason: "missing_row", detail: `Row ${checkpoint.seq}, which ${name} covers, is missing: it was deleted.` };
  if (row.hash !== checkpoint.hash) {
    return {
      seq: checkpoint.seq,
      reason: "checkpoint_mismatch",
      detail: `The row at seq ${checkpoint.seq} no longer has the hash ${name} recorded: the chain up to it was recomputed (or cut and appended to) after the checkpoint.`,
    };
  }
  return null;
}
