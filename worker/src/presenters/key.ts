/** An API key on the wire (every /v1/keys answer): never the hash, never the secret; times as RFC 3339 instants. */
import { z } from "zod";
import type { apiKeys } from "../db/schema";
import { ROLES } from "../db/schema";
import { Instant, instant, instantOrNull } from "../instant";

export const ApiKey = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string(),
  created_at: Instant,
  last_used_at: Instant.nullable(),
  expires_at: Instant.nullable(),
  revoked_at: Instant.nullable(),
  rotated_from: z.string().nullable(),
  status: z.enum(["active", "expired", "revoked"]),
});
export type ApiKeyView = z.output<typeof ApiKey>;

/** @param now Unix ms: whether the key has expired is a question of now. */
export function presentKey(row: typeof apiKeys.$inferSelect, now: number): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    created_at: instant(row.createdAt),
    last_used_at: instantOrNull(row.lastUsedAt),
    expires_at: instantOrNull(row.expiresAt),
    revoked_at: instantOrNull(row.revokedAt),
    rotated_from: row.rotatedFrom,
    status: row.revokedAt !== null ? "revoked" : row.expiresAt !== null && row.expiresAt <= now ? "expired" : "active",
  };
}
