import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

/** drizzle over D1, with the binding itself (`$client`) for a statement drizzle built once and only binds (stripe-sync/events.ts). */
export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

const cache = new WeakMap<D1Database, Db>();

/** One drizzle instance per D1 binding: building it per request would waste CPU. */
export function getDb(d1: D1Database): Db {
  let db = cache.get(d1);
  if (!db) cache.set(d1, (db = drizzle(d1, { schema })));
  return db;
}

export { schema };
