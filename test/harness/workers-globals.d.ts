/**
 * The one Workers global that worker source imported into Node (db/client.ts) names. Node-side
 * code gets D1 from Miniflare, whose type is this one; the full @cloudflare/workers-types would
 * clash with the DOM and Node globals this project needs.
 */
import type { D1Database as WorkersD1Database } from "@cloudflare/workers-types/experimental";

declare global {
  type D1Database = WorkersD1Database;
}

export {};
