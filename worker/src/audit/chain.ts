/**
 * The hash chain of the audit log. Each row's hash covers a canonical form of the row and the
 * previous row's hash, so changing or deleting any row breaks every hash after it, and
 * `verify` can name the first row that no longer fits.
 */
import { canonicalJson, sha256Hex } from "../crypto";
import type { ActorType, Role } from "../db/schema";

export type { ActorType };

export const GENESIS_HASH = "0".repeat(64);

/**
 * Whoever acts: an API key (or the dashboard session it opened), Stripe through an event, a
 * cron, the system, a CLI; and, when it acts in a request, that request. Every audited change
 * records the type, id and request id; an API key brings the role its permissions come from.
 */
export interface Actor {
  type: ActorType;
  id: string;
  /** An API key's role: what a route or a tool checks the permission against. */
  role?: Role | undefined;
  /** An API key's name, as the dashboard greets it. */
  name?: string | undefined;
  requestId?: string | undefined;
  /**
   * The request's Idempotency-Key, made specific to its API key and request: Stripe writes that
   * would make a new object (a Checkout Session) pass it on as Stripe's idempotency key, so a
   * retry that runs again after a 5xx gets the same object back.
   */
  idempotencyKey?: string | undefined;
}

export interface AuditEntry {
  /** The row records its type, id and request id. */
  actor: Actor;
  action: string;
  subject: { type: string; id: string };
  before?: unknown;
  after?: unknown;
}

export interface ChainedRow {
  seq: number;
  at: number;
  actorType: ActorType;
  actorId: string;
  action: string;
  subjectType: string;
  subjectId: string;
  before: string | null;
  after: string | null;
  requestId: string | null;
  prevHash: string;
}

export function rowHash(row: ChainedRow): Promise<string> {
  return sha256Hex(
    canonicalJson({
      seq: row.seq,
      at: row.at,
      actor_type: row.actorType,
      actor_id: row.actorId,
      action: row.action,
      subject_type: row.subjectType,
      subject_id: row.subjectId,
      before: row.before,
      after: row.after,
      request_id: row.requestId,
      prev_hash: row.prevHash,
    }),
  );
}

/** Builds the next row of the chain from its head; pure, so the CLI and the worker share it. */
export async function chainRow(head: { seq: number; hash: string } | undefined, entry: AuditEntry, now: number): Promise<ChainedRow & { hash: string }> {
  const row: ChainedRow = {
    seq: (head?.seq ?? 0) + 1,
    at: now,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    action: entry.action,
    subjectType: entry.subject.type,
    subjectId: entry.subject.id,
    before: entry.before === undefined ? null : canonicalJson(entry.before),
    after: entry.after === undefined ? null : canonicalJson(entry.after),
    requestId: entry.actor.requestId ?? null,
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  return { ...row, hash: await rowHash(row) };
}
