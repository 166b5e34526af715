/**
 * Stripe price ids for the catalog's lookup keys. The catalog never holds a Stripe id: the
 * worker finds each price by its lookup key and keeps what it found for the isolate's life
 * (a price's id never changes; a new price under the key means a new deploy of the catalog).
 * A key Stripe does not know is asked again after a minute, so creating the price later is
 * picked up without a restart.
 */
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { describeError } from "../log";
import type { Services } from "../services";
import type { Stripe } from "./stripe";

const MISS_TTL_MS = 60_000;

interface Entry {
  id: string | null;
  /** For a miss: when to ask Stripe again. */
  until: number;
}

const caches = new WeakMap<Stripe, Map<string, Entry>>();

function cacheFor(stripe: Stripe): Map<string, Entry> {
  let m = caches.get(stripe);
  if (!m) caches.set(stripe, (m = new Map()));
  return m;
}

/**
 * The Stripe price ids of the given lookup keys (null for a key Stripe has no active price for),
 * in one `prices.list` for those not cached yet. Stripe errors propagate.
 */
export async function priceIds(deps: Pick<Services, "stripe" | "clock">, lookupKeys: readonly string[]): Promise<Map<string, string | null>> {
  const stripe = deps.stripe;
  const cache = cacheFor(stripe);
  const now = deps.clock.now();
  const out = new Map<string, string | null>();
  const missing: string[] = [];
  for (const key of lookupKeys) {
    const hit = cache.get(key);
    if (hit && (hit.id !== null || hit.until > now)) out.set(key, hit.id);
    else missing.push(key);
  }
  if (missing.length > 0) {
    const found = await stripe.prices.list({ lookup_keys: missing, active: true, limit: 100 });
    for (const key of missing) {
      const id = found.data.find((p) => p.lookup_key === key)?.id ?? null;
      cache.set(key, { id, until: now + MISS_TTL_MS });
      out.set(key, id);
    }
  }
  return out;
}

/**
 * Every catalog price's Stripe id by lookup key, or null for each when Stripe is not
 * configured or does not answer: the catalog works without Stripe.
 */
export async function catalogPriceIds(deps: Pick<Services, "stripe" | "clock" | "log">, from: Catalog = defaultCatalog): Promise<Map<string, string | null>> {
  const keys = from.tiers.flatMap((t) => t.prices.map((p) => p.lookupKey));
  try {
    return await priceIds(deps, keys);
  } catch (e) {
    deps.log.log("warn", "catalog price ids unavailable", { error: describeError(e) });
    return new Map(keys.map((k) => [k, null]));
  }
}
