import { sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

const BATCH = 500;

/**
 * Deletes the rows of `table` matching `where`, 500 at a time until a batch comes back short:
 * each statement stays short, so a first run over a long backlog never holds D1 for long.
 */
export async function deleteInBatches(db: Db, table: SQLiteTable, where: SQL): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db.run(sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} LIMIT ${BATCH})`);
    const deleted = result.meta.changes ?? 0;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}
