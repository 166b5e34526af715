/**
 * Dashboard sessions: an API key traded once for a random token kept in a cookie, so the browser
 * never holds the key. Only the token's SHA-256 is stored. A session acts as its key and no more:
 * it ends at its own expiry, when the key is revoked or expires, or at sign-out.
 */
import { and, eq, lte } from "drizzle-orm";
import type { Actor } from "../audit";
import { apiKeys, dashboardSessions } from "../db/schema";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { randomBase64url, randomId } from "../crypto";
import { hashKey } from "./keys";
import { roleHas, type Permission } from "./permissions";

type Deps = Pick<Services, "db" | "clock" | "audit">;

/** A working day: long enough not to interrupt a look at the numbers, short for a cookie left behind. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  id: string;
  actor: Actor;
  expiresAt: number;
}

const newToken = (): string => randomBase64url(32);

/** One message for every refusal: which keys exist and what roles they hold is not for a sign-in form to tell. */
export const SIGN_IN_REFUSED = "That key cannot open the dashboard.";

/**
 * Signs in with an API key whose role holds `permission`. An unknown, malformed, revoked, expired
 * or wrong-role key is refused with the same error after the same work (a hash and one lookup),
 * so neither the answer nor its timing tells them apart. Expired sessions are cleared here, in
 * the same batch as the new one.
 */
export async function signIn(deps: Deps, presented: string, permission: Permission, requestId?: string): Promise<{ token: string; session: Session }> {
  const now = deps.clock.now();
  const row = await deps.db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.hash, await hashKey(presented)))
    .get();
  const usable = row !== undefined && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now) && roleHas(row.role, permission);
  if (!usable) throw new DomainError("unauthenticated", SIGN_IN_REFUSED);
  const token = newToken();
  // A key that expires sooner than a session cuts the session short: it never outlives its key.
  const expiresAt = Math.min(now + SESSION_TTL_MS, row.expiresAt ?? Number.MAX_SAFE_INTEGER);
  const session: Session = { id: randomId("ses"), actor: { type: "api_key", id: row.id, role: row.role, name: row.name }, expiresAt };
  const tokenHash = await hashKey(token);
  const who: Actor = { type: "api_key", id: row.id, requestId };
  await deps.audit.commit(async () => ({
    statements: [
      deps.db.delete(dashboardSessions).where(lte(dashboardSessions.expiresAt, now)),
      deps.db.insert(dashboardSessions).values({ id: session.id, tokenHash, keyId: row.id, createdAt: now, expiresAt }),
    ],
    entries: [{ actor: who, action: "dashboard.signed_in", subject: { type: "dashboard_session", id: session.id }, after: { key_prefix: row.prefix, role: row.role, expires_at: expiresAt } }],
    result: undefined,
  }));
  return { token, session };
}

/** The live session a cookie's token names, or null: unknown, expired, or its key no longer usable. */
export async function readSession({ db, clock }: Pick<Services, "db" | "clock">, token: string | undefined): Promise<Session | null> {
  if (!token || !TOKEN_PATTERN.test(token)) return null;
  const now = clock.now();
  const row = await db
    .select({
      id: dashboardSessions.id,
      expiresAt: dashboardSessions.expiresAt,
      keyId: apiKeys.id,
      role: apiKeys.role,
      name: apiKeys.name,
      keyExpiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(dashboardSessions)
    .innerJoin(apiKeys, eq(apiKeys.id, dashboardSessions.keyId))
    .where(eq(dashboardSessions.tokenHash, await hashKey(token)))
    .get();
  if (!row || row.expiresAt <= now || row.revokedAt !== null || (row.keyExpiresAt !== null && row.keyExpiresAt <= now)) return null;
  return { id: row.id, actor: { type: "api_key", id: row.keyId, role: row.role, name: row.name }, expiresAt: row.expiresAt };
}

/** Ends the session the token names, if there is one; signing out twice is not an error. */
export async function signOut(deps: Deps, token: string | undefined, requestId?: string): Promise<boolean> {
  if (!token || !TOKEN_PATTERN.test(token)) return false;
  const tokenHash = await hashKey(token);
  return deps.audit.commit(async () => {
    const row = await deps.db.select().from(dashboardSessions).where(eq(dashboardSessions.tokenHash, tokenHash)).get();
    if (!row) return { statements: [], entries: [], result: false };
    return {
      statements: [deps.db.delete(dashboardSessions).where(and(eq(dashboardSessions.id, row.id), eq(dashboardSessions.tokenHash, tokenHash)))],
      entries: [{ actor: { type: "api_key", id: row.keyId, requestId }, action: "dashboard.signed_out", subject: { type: "dashboard_session", id: row.id } }],
      result: true,
    };
  });
}
