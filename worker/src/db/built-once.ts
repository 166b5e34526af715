import { sql, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

/**
 * A query drizzle builds once per D1 handle (a prepared query with placeholders), then only
 * binds. Building a query walks every SQL chunk and checks each one's kind; for the hot reads of
 * a sync (the audit chain's head, the mirror rows of a batch of ids) that cost more CPU than D1
 * took to run them (issue 28's profiles of the worker suite and the demo seed).
 */
export function builtOnce<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let query = built.get(db);
    if (query === undefined) built.set(db, (query = build(db)));
    return query;
  };
}

/**
 * `column IN` a list bound as one JSON array (placeholder `name`), so a query with a list of any
 * length is built once: bind it with `JSON.stringify(list)`.
 */
export function inJsonList(column: AnySQLiteColumn, name: string): SQL {
  return sql`${column} in (select value from json_each(${sql.placeholder(name)}))`;
}
