import { and, eq, sql } from "drizzle-orm";
import { auditLog } from "../db/schema";
import type { OrganizationDeps } from "./create";

/**
 * Whether the organization has an audit row of `action` whose `after` holds every value of
 * `after`: a retry that finds Stripe already done asks this before writing the row, so the row
 * is written once.
 */
export async function organizationAudited(db: OrganizationDeps["db"], orgId: string, action: string, after: Record<string, string | number>): Promise<boolean> {
  const row = await db
    .select({ seq: auditLog.seq })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.subjectType, "organization"),
        eq(auditLog.subjectId, orgId),
        eq(auditLog.action, action),
        ...Object.entries(after).map(([key, value]) => sql`json_extract(${auditLog.after}, ${`$.${key}`}) = ${value}`),
      ),
    )
    .get();
  return row !== undefined;
}
