/**
 * Signed checkpoints of the audit chain's head, made by the minute cron. The hash chain shows a
 * changed or deleted row, but not its newest rows deleted, nor the whole chain recomputed with
 * valid SHA-256 by someone who can write D1. A checkpoint `{seq, hash, at}` with an HMAC under
 * AUDIT_CHECKPOINT_SECRET does: that writer cannot make one for the chain they left behind.
 * Each checkpoint is stored in audit_checkpoints (what verify reads) and logged, so that
 * Logpush or `wrangler tail` keeps a copy outside D1 that deleting rows cannot reach.
 */
import { auditCheckpoints } from "../db/schema";
import type { Services } from "../services";
import { readHead } from "./append";
import type { Checkpoint } from "./checkpoint-key";
import { compareWithCheckpoint, GENESIS, latestCheckpoint, walkChain, type ChainBreak } from "./walk";
import { instant } from "../instant";

export type CheckpointOutcome =
  | { status: "made"; checkpoint: Checkpoint & { mac: string } }
  /** No rows since the last checkpoint, or another run signed this head first. */
  | { status: "unchanged" }
  | { status: "not_configured" }
  /** The chain no longer extends the last checkpoint; nothing is signed until a person looks. */
  | { status: "refused"; broken: ChainBreak };

export async function checkpointAuditHead(s: Pick<Services, "db" | "clock" | "log" | "checkpointKey">): Promise<CheckpointOutcome> {
  const key = s.checkpointKey;
  if (!key) return { status: "not_configured" };
  const refuse = (broken: ChainBreak): CheckpointOutcome => {
    s.log.log("error", "audit chain does not extend its last checkpoint; not signing a new one", { ...broken });
    return { status: "refused", broken };
  };

  // Only a head that extends the last signed one is signed: otherwise whoever rewrote or cut the
  // chain would only have to wait a minute for this cron to sign their version.
  const last = await latestCheckpoint(s.db);
  if (last) {
    if (!(await key.verify(last, last.mac))) {
      return refuse({ seq: last.seq, reason: "checkpoint_forged", detail: `The checkpoint at seq ${last.seq} does not carry a valid MAC under AUDIT_CHECKPOINT_SECRET.` });
    }
    const broken = await compareWithCheckpoint(s.db, last, (await readHead(s.db)) ?? null, `the checkpoint of ${instant(last.at)}`);
    if (broken) return refuse(broken);
  }
  // Only the rows since the last checkpoint are walked (all of them for the first one).
  const walk = await walkChain(s.db, last ?? GENESIS);
  if (walk.broken) return refuse(walk.broken);
  if (!walk.head) return { status: "unchanged" };

  const checkpoint: Checkpoint = { seq: walk.head.seq, hash: walk.head.hash, at: s.clock.now() };
  const mac = await key.sign(checkpoint);
  // Two runs at once (an overlapping or retried tick) sign the same head: the seq key keeps one.
  const stored = await s.db
    .insert(auditCheckpoints)
    .values({ ...checkpoint, mac })
    .onConflictDoNothing()
    .returning({ seq: auditCheckpoints.seq })
    .all();
  if (stored.length === 0) return { status: "unchanged" };
  s.log.log("info", "audit checkpoint", { seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, mac });
  return { status: "made", checkpoint: { ...checkpoint, mac } };
}
