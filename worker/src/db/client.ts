import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

const cache = new WeakMap<D1Database, Db>();

/** One drizzle instance per D1 binding: building it per request would waste CPU. */
export function getDb(d1: D1Database): Db {
  let db = cache.get(d1);
  if (!db) cache.set(d1, (db = drizzle(d1, { schema })));
  return db;
}

export { schema };
