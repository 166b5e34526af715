/**
 * The operator's check of the audit log: the whole hash chain, then the chain against a
 * checkpoint of its head, which is what shows a cut tail or a chain recomputed whole. The
 * checkpoint is the operator's own copy when given (kept outside D1, so the strongest), else the
 * latest signed one in audit_checkpoints, whose MAC is checked first.
 */
import type { Services } from "../services";
import { compareWithCheckpoint, GENESIS, latestCheckpoint, walkChain, type ChainBreak, type Head } from "./walk";
import { instant } from "../instant";

export interface VerifyResult {
  ok: boolean;
  rows_checked: number;
  head: Head | null;
  /** The first row that does not fit the chain (or its checkpoint), and why. */
  first_broken: ChainBreak | null;
  /** The checkpoint the chain was checked against: stored and signed, or given by the operator (no time). */
  checkpoint: { seq: number; at: number | null; source: "stored" | "given" } | null;
  /** Whether this worker signs checkpoints (AUDIT_CHECKPOINT_SECRET is set). */
  checkpointing: "enabled" | "not_configured";
}

export async function verifyAuditChain(s: Pick<Services, "db" | "checkpointKey">, options: { checkpoint?: Head } = {}): Promise<VerifyResult> {
  const key = s.checkpointKey;
  const walk = await walkChain(s.db, GENESIS);
  const answer = (checkpoint: VerifyResult["checkpoint"], broken: ChainBreak | null): VerifyResult => ({
    ok: broken === null,
    rows_checked: walk.checked,
    head: walk.head,
    first_broken: broken,
    checkpoint,
    checkpointing: key ? "enabled" : "not_configured",
  });

  if (options.checkpoint) {
    const given = options.checkpoint;
    const checkedAgainst = { seq: given.seq, at: null, source: "given" as const };
    return answer(checkedAgainst, walk.broken ?? (await compareWithCheckpoint(s.db, given, walk.head, `the given checkpoint (seq ${given.seq})`)));
  }

  // Without the key a stored checkpoint cannot be told from a forged one, so none is used.
  const stored = key ? await latestCheckpoint(s.db) : null;
  if (!key || !stored) return answer(null, walk.broken);
  const checkedAgainst = { seq: stored.seq, at: stored.at, source: "stored" as const };
  if (walk.broken) return answer(checkedAgainst, walk.broken);
  if (!(await key.verify(stored, stored.mac))) {
    return answer(checkedAgainst, {
      seq: stored.seq,
      reason: "checkpoint_forged",
      detail: `The checkpoint at seq ${stored.seq} does not carry a valid MAC under AUDIT_CHECKPOINT_SECRET: this worker did not make it, so the table was written to directly.`,
    });
  }
  return answer(checkedAgainst, await compareWithCheckpoint(s.db, stored, walk.head, `the checkpoint of ${instant(stored.at)}`));
}
