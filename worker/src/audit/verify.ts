import { asc, gt } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditLog } from "../db/schema";
import { GENESIS_HASH, rowHash } from "./chain";

export interface VerifyResult {
  ok: boolean;
  rows_checked: number;
  head: { seq: number; hash: string } | null;
  /** The first row that does not fit the chain, and why. */
  first_broken: { seq: number; reason: "hash_mismatch" | "prev_hash_mismatch" | "missing_row" } | null;
}

const PAGE = 500;

/** Walks the chain in pages so a long log stays within a Worker's CPU and memory limits. */
export async function verifyAuditChain(db: Db): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  let last: { seq: number; hash: string } | null = null;
  for (;;) {
    const rows = await db.select().from(auditLog).where(gt(auditLog.seq, expectedSeq - 1)).orderBy(asc(auditLog.seq)).limit(PAGE).all();
    for (const row of rows) {
      if (row.seq !== expectedSeq) return { ok: false, rows_checked: checked, head: last, first_broken: { seq: expectedSeq, reason: "missing_row" } };
      if (row.prevHash !== prevHash) return { ok: false, rows_checked: checked, head: last, first_broken: { seq: row.seq, reason: "prev_hash_mismatch" } };
      if ((await rowHash(row)) !== row.hash) return { ok: false, rows_checked: checked, head: last, first_broken: { seq: row.seq, reason: "hash_mismatch" } };
      checked++;
      prevHash = row.hash;
      last = { seq: row.seq, hash: row.hash };
      expectedSeq++;
    }
    if (rows.length < PAGE) return { ok: true, rows_checked: checked, head: last, first_broken: null };
  }
}
