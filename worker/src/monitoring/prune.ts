import { and, inArray, lte } from "drizzle-orm";
import { deleteInBatches } from "../db/prune";
import { monitoringAlerts } from "../db/schema";
import type { Services } from "../services";

/** How long a delivered (or given up) alert is kept: long past its window, which is at most a day. */
export const ALERT_RETENTION_MS = 30 * 86_400_000;

/**
 * Deletes alerts sent or failed more than 30 days ago (the quarter-hour cron). A pending or
 * sending alert is kept whatever its age: it is still owed to the endpoint.
 */
export async function pruneAlerts(s: Pick<Services, "db" | "clock">): Promise<number> {
  return deleteInBatches(s.db, monitoringAlerts, and(inArray(monitoringAlerts.status, ["sent", "failed"]), lte(monitoringAlerts.createdAt, s.clock.now() - ALERT_RETENTION_MS))!);
}
