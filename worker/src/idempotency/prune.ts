import { sql } from "drizzle-orm";
import type { Services } from "../services";
import { IDEMPOTENCY_TTL_MS } from "./policy";

const PRUNE_BATCH = 500;

/**
 * Deletes keys past their day (the quarter-hour cron), in short statements of 500 rows until one
 * comes back short. An expired key is already free to claim; this only keeps the table small.
 */
export async function pruneIdempotencyKeys(s: Pick<Services, "db" | "clock">): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await s.db.run(
      sql`DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at <= ${s.clock.now() - IDEMPOTENCY_TTL_MS} LIMIT ${PRUNE_BATCH})`,
    );
    const deleted = result.meta.changes ?? 0;
    total += deleted;
    if (deleted < PRUNE_BATCH) return total;
  }
}
