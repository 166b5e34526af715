/** API key lifecycle: create, list, rotate, revoke, authenticate. Every change is audited. */
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { builtOnce } from "../db/built-once";
import { apiKeys, type Role } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { randomId } from "../crypto";
import { presentKey, type ApiKeyView } from "../presenters";
import { generateKey, hashKey, looksLikeKey } from "./keys";

export type { ApiKeyView };

type Deps = Pick<Services, "db" | "clock" | "audit">;

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** What the audit log keeps of a key: never the hash, never the key. */
const summary = (row: Pick<ApiKeyRow, "name" | "role" | "prefix" | "expiresAt" | "revokedAt">) => ({
  name: row.name,
  role: row.role,
  prefix: row.prefix,
  expires_at: row.expiresAt,
  revoked_at: row.revokedAt,
});

async function newKey(who: Actor, now: number, fields: Pick<ApiKeyRow, "name" | "role" | "expiresAt" | "rotatedFrom">) {
  const material = await generateKey();
  const row: ApiKeyRow = {
    ...fields,
    id: randomId("key"),
    prefix: material.prefix,
    hash: material.hash,
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
    createdBy: `${who.type}:${who.id}`,
  };
  return { material, row };
}

export async function createApiKey(deps: Deps, who: Actor, input: { name: string; role: Role; expiresAt?: number | null; rotatedFrom?: string | null }): Promise<{ key: string; view: ApiKeyView }> {
  const now = deps.clock.now();
  if (input.expiresAt != null && input.expiresAt <= now) {
    throw new DomainError("validation_failed", "expires_at must be in the future.", { errors: [{ field: "expires_at", message: "must be in the future" }] });
  }
  const { material, row } = await newKey(who, now, { name: input.name, role: input.role, expiresAt: input.expiresAt ?? null, rotatedFrom: input.rotatedFrom ?? null });
  await deps.audit.commit(async () => ({
    statements: [deps.db.insert(apiKeys).values(row)],
    entries: [{ actor: who, action: "api_key.created", subject: { type: "api_key", id: row.id }, after: summary(row) }],
    result: undefined,
  }));
  return { key: material.key, view: presentKey(row, now) };
}

export async function listApiKeys({ db, clock }: Pick<Services, "db" | "clock">, opts: { includeRevoked: boolean }): Promise<ApiKeyView[]> {
  const now = clock.now();
  const rows = await db
    .select()
    .from(apiKeys)
    .where(opts.includeRevoked ? undefined : isNull(apiKeys.revokedAt))
    .orderBy(desc(apiKeys.createdAt))
    .all();
  return rows.map((r) => presentKey(r, now));
}

const noSuchKey = (id: string) => new DomainError("not_found", `No API key has the id ${id}.`, { errors: [{ field: "id", message: "no such key" }] });

async function activeKey(deps: Deps, id: string, now: number): Promise<ApiKeyRow> {
  const row = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
  if (!row) throw noSuchKey(id);
  if (row.revokedAt !== null) throw new DomainError("conflict", `API key ${id} is already revoked.`, { errors: [{ field: "id", message: "revoked" }] });
  if (row.expiresAt !== null && row.expiresAt <= now) throw new DomainError("conflict", `API key ${id} has expired.`, { errors: [{ field: "id", message: "expired" }] });
  return row;
}

/** How long a rotated-out key keeps working when the caller names no expiry. */
export const DEFAULT_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Rotation with overlap: the new key works at once and the old one keeps working until
 * `oldExpiresAt`, so every client can switch without a failed request.
 */
export async function rotateApiKey(deps: Deps, who: Actor, id: string, opts: { oldExpiresAt?: number | undefined }): Promise<{ key: string; view: ApiKeyView; previous: ApiKeyView }> {
  const now = deps.clock.now();
  const oldExpiresAt = opts.oldExpiresAt ?? now + DEFAULT_OVERLAP_MS;
  if (oldExpiresAt < now) {
    throw new DomainError("validation_failed", "old_key_expires_at must not be in the past.", { errors: [{ field: "old_key_expires_at", message: "must not be in the past" }] });
  }
  // Read inside the audited batch's build, so a concurrent revoke is seen, not overwritten.
  return deps.audit.commit(async () => {
    const old = await activeKey(deps, id, now);
    const { material, row } = await newKey(who, now, { name: old.name, role: old.role, expiresAt: null, rotatedFrom: old.id });
    const oldExpiry = Math.min(oldExpiresAt, old.expiresAt ?? Number.MAX_SAFE_INTEGER);
    const updatedOld = { ...old, expiresAt: oldExpiry };
    return {
      statements: [
        deps.db.insert(apiKeys).values(row),
        deps.db
          .update(apiKeys)
          .set({ expiresAt: oldExpiry })
          .where(and(eq(apiKeys.id, old.id), isNull(apiKeys.revokedAt))),
      ],
      entries: [
        { actor: who, action: "api_key.rotated", subject: { type: "api_key", id: old.id }, before: summary(old), after: { ...summary(updatedOld), replaced_by: row.id } },
        { actor: who, action: "api_key.created", subject: { type: "api_key", id: row.id }, after: summary(row) },
      ],
      result: { key: material.key, view: presentKey(row, now), previous: presentKey(updatedOld, now) },
    };
  });
}

export async function revokeApiKey(deps: Deps, who: Actor, id: string): Promise<ApiKeyView> {
  const now = deps.clock.now();
  return deps.audit.commit(async () => {
    const row = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
    if (!row) throw noSuchKey(id);
    // Already revoked (perhaps by a request racing this one): nothing to write, nothing to audit.
    if (row.revokedAt !== null) return { statements: [], entries: [], result: presentKey(row, now) };
    const revoked = { ...row, revokedAt: now };
    return {
      statements: [
        deps.db
          .update(apiKeys)
          .set({ revokedAt: now })
          .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))),
      ],
      entries: [{ actor: who, action: "api_key.revoked", subject: { type: "api_key", id }, before: summary(row), after: summary(revoked) }],
      result: presentKey(revoked, now),
    };
  });
}

/** last_used_at is written at most once a minute per key, so auth is one read per request. */
const LAST_USED_GRANULARITY_MS = 60_000;

/** The key with a hash: read on every authenticated request, so built once per D1 handle. */
const byHash = builtOnce((db) =>
  db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.hash, sql.placeholder("hash")))
    .prepare(),
);

export async function authenticate({ db, clock }: Pick<Services, "db" | "clock">, presented: string): Promise<{ actor: Actor; touch: Promise<unknown> | null }> {
  const now = clock.now();
  if (!looksLikeKey(presented)) {
    throw new DomainError("unauthenticated", "The API key is malformed: expected `Authorization: Bearer fja_...`.");
  }
  const row = await byHash(db).get({ hash: await hashKey(presented) });
  if (!row) throw new DomainError("unauthenticated", "The API key is not recognised.");
  if (row.revokedAt !== null) throw new DomainError("unauthenticated", `The API key ${row.prefix}… was revoked; ask an admin for a new one.`);
  if (row.expiresAt !== null && row.expiresAt <= now) throw new DomainError("unauthenticated", `The API key ${row.prefix}… has expired; use its replacement or ask an admin to rotate it.`);
  const stale = row.lastUsedAt === null || row.lastUsedAt < now - LAST_USED_GRANULARITY_MS;
  const touch = stale
    ? db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, now - LAST_USED_GRANULARITY_MS))))
        .run()
    : null;
  return { actor: { type: "api_key", id: row.id, role: row.role, name: row.name }, touch };
}
