import { lte } from "drizzle-orm";
import { deleteInBatches } from "../db/prune";
import { idempotencyKeys } from "../db/schema";
import type { Services } from "../services";
import { IDEMPOTENCY_TTL_MS } from "./policy";

/**
 * Deletes keys past their day (the quarter-hour cron). An expired key is already free to claim;
 * this only keeps the table small.
 */
export async function pruneIdempotencyKeys(s: Pick<Services, "db" | "clock">): Promise<number> {
  return deleteInBatches(s.db, idempotencyKeys, lte(idempotencyKeys.createdAt, s.clock.now() - IDEMPOTENCY_TTL_MS));
}
