import type Stripe from "stripe";
import { invalidRequest } from "./errors.ts";
import { int, isJsonRecord, str, type Params } from "./form.ts";

/**
 * Cursor pagination as Stripe does it: newest first, `limit` 1..100 (default 10),
 * `starting_after` = the last id of the previous page, `ending_before` = the first id of the
 * next page; `has_more` says whether another page exists in that direction.
 */
export function paginate<T extends { id: string }>(newestFirst: T[], p: Params, url: string): Stripe.ApiList<T> {
  const limit = int(p, "limit") ?? 10;
  const after = str(p, "starting_after");
  const before = str(p, "ending_before");
  let data: T[];
  let hasMore: boolean;
  if (after !== undefined) {
    const i = newestFirst.findIndex((o) => o.id === after);
    if (i < 0) throw invalidRequest(`No such object: '${after}'`, "starting_after", "resource_missing", 400);
    data = newestFirst.slice(i + 1, i + 1 + limit);
    hasMore = i + 1 + limit < newestFirst.length;
  } else if (before !== undefined) {
    const i = newestFirst.findIndex((o) => o.id === before);
    if (i < 0) throw invalidRequest(`No such object: '${before}'`, "ending_before", "resource_missing", 400);
    const start = Math.max(0, i - limit);
    data = newestFirst.slice(start, i);
    hasMore = start > 0;
  } else {
    data = newestFirst.slice(0, limit);
    hasMore = newestFirst.length > limit;
  }
  return { object: "list", data, has_more: hasMore, url };
}

/** Applies `created` (an integer or gt/gte/lt/lte range) to a timestamp. */
export function matchesRange(value: number, p: Params, key: string): boolean {
  const r = p[key];
  if (r === undefined) return true;
  if (typeof r === "number") return value === r;
  if (!isJsonRecord(r)) return true;
  const gt = int(r, "gt");
  const gte = int(r, "gte");
  const lt = int(r, "lt");
  const lte = int(r, "lte");
  if (gt !== undefined && !(value > gt)) return false;
  if (gte !== undefined && !(value >= gte)) return false;
  if (lt !== undefined && !(value < lt)) return false;
  if (lte !== undefined && !(value <= lte)) return false;
  return true;
}

export function newestFirst<T>(map: Map<string, T>): T[] {
  return [...map.values()].reverse();
}
