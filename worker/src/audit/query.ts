import { and, desc, eq, gte, lt, lte, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditLog } from "../db/schema";

export interface AuditFilter {
  action?: string | undefined;
  actorId?: string | undefined;
  subjectType?: string | undefined;
  subjectId?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  /** Keyset pagination: rows with seq below this. */
  before?: number | undefined;
  limit: number;
}

export async function listAudit(db: Db, f: AuditFilter) {
  const where: SQL[] = [];
  if (f.action) where.push(eq(auditLog.action, f.action));
  if (f.actorId) where.push(eq(auditLog.actorId, f.actorId));
  if (f.subjectType) where.push(eq(auditLog.subjectType, f.subjectType));
  if (f.subjectId) where.push(eq(auditLog.subjectId, f.subjectId));
  if (f.from !== undefined) where.push(gte(auditLog.at, f.from));
  if (f.to !== undefined) where.push(lte(auditLog.at, f.to));
  if (f.before !== undefined) where.push(lt(auditLog.seq, f.before));
  const rows = await db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(f.limit + 1)
    .all();
  const hasMore = rows.length > f.limit;
  const page = rows.slice(0, f.limit);
  return { rows: page, hasMore, nextBefore: hasMore ? page[page.length - 1]!.seq : null };
}
