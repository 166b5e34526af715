/**
 * Stripe price ids for the catalog's lookup keys. The catalog never holds a Stripe id: the
 * worker finds each price by its lookup key and keeps what it found for the isolate's life
 * (a price's id never changes; a new price under the key means a new deploy of the catalog).
 * A key Stripe does not know is asked again after a minute, so creating the price later is
 * picked up without a restart.
 */
import { catalog as defaultCatalog, type Catalog } from "../catalog";
import { DomainError, isDomainError } from "../errors";
import { describeError } from "../log";
import type { Services } from "../services";
import type { Stripe } from "../stripe-sync";

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
  // Stripe takes up to 10 lookup keys per list; the catalog has more prices than that once multi-year ones are counted.
  for (let i = 0; i < missing.length; i += 10) {
    const chunk = missing.slice(i, i + 10);
    const found = await stripe.prices.list({ lookup_keys: chunk, active: true, limit: 100 });
    for (const key of chunk) {
      const id = found.data.find((p) => p.lookup_key === key)?.id ?? null;
      cache.set(key, { id, until: now + MISS_TTL_MS });
      out.set(key, id);
    }
  }
  return out;
}

/** After Stripe failed to answer the catalog, it is not asked again for this long (per client). */
const CATALOG_BACKOFF_MS = 30_000;
const catalogFailedAt = new WeakMap<Stripe, number>();

/**
 * Every catalog price's Stripe id by lookup key, or null for each when Stripe is not
 * configured or does not answer: the catalog works without Stripe, and a Stripe outage does not
 * make every catalog request wait for the client's timeouts (it is asked again after 30 s).
 */
export async function catalogPriceIds(deps: Pick<Services, "stripe" | "clock" | "log">, from: Catalog = defaultCatalog): Promise<Map<string, string | null>> {
  const keys = from.tiers.flatMap((t) => t.prices.map((p) => p.lookupKey));
  const none = () => new Map(keys.map((k) => [k, null] as const));
  let stripe: Stripe;
  try {
    stripe = deps.stripe;
  } catch (e) {
    if (isDomainError(e, "config_invalid")) return none();
    throw e;
  }
  const failedAt = catalogFailedAt.get(stripe);
  if (failedAt !== undefined && deps.clock.now() - failedAt < CATALOG_BACKOFF_MS) return none();
  try {
    return await priceIds(deps, keys);
  } catch (e) {
    catalogFailedAt.set(stripe, deps.clock.now());
    deps.log.log("warn", "catalog price ids unavailable: Stripe did not answer", { error: describeError(e) });
    return none();
  }
}

/** The Stripe price id of one lookup key; config_invalid when Stripe has no such price. */
export async function requirePriceId(deps: Pick<Services, "stripe" | "clock">, lookupKey: string): Promise<string> {
  const id = (await priceIds(deps, [lookupKey])).get(lookupKey) ?? null;
  if (id === null) {
    throw new DomainError("config_invalid", `Stripe has no active price with the lookup key ${lookupKey}; create it (npm start does locally).`, {
      errors: [{ field: "STRIPE_SECRET_KEY", message: `no price with lookup key ${lookupKey} in this Stripe account` }],
    });
  }
  return id;
}
