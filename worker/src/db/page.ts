/**
 * A newest-first page of a table with `id` and `created_at`, for the API's lists: the cursor is
 * the last id of the previous page, which must be in the same scope (a user's rows), and ties on
 * the creation time are broken by id, so no row is skipped or repeated between pages.
 */
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

type Paged = SQLiteTable & { id: SQLiteColumn; createdAt: SQLiteColumn };

export async function newestFirstPage<T extends Paged>(
  db: Db,
  table: T,
  scope: SQL | undefined,
  opts: { limit: number; startingAfter?: string | undefined },
  /** Thrown when the cursor is not a row of the scope: the caller's own problem, naming starting_after. */
  unknownCursor: (id: string) => Error,
): Promise<{ rows: T["$inferSelect"][]; hasMore: boolean }> {
  const where: (SQL | undefined)[] = [scope];
  if (opts.startingAfter !== undefined) {
    const cursor = (await db
      .select({ id: table.id, createdAt: table.createdAt })
      .from(table as SQLiteTable)
      .where(and(eq(table.id, opts.startingAfter), scope))
      .get()) as { id: string; createdAt: number } | undefined;
    if (!cursor) throw unknownCursor(opts.startingAfter);
    where.push(or(lt(table.createdAt, cursor.createdAt), and(eq(table.createdAt, cursor.createdAt), lt(table.id, cursor.id))));
  }
  const rows = (await db
    .select()
    .from(table as SQLiteTable)
    .where(and(...where))
    .orderBy(desc(table.createdAt), desc(table.id))
    .limit(opts.limit + 1)
    .all()) as T["$inferSelect"][];
  return { rows: rows.slice(0, opts.limit), hasMore: rows.length > opts.limit };
}
