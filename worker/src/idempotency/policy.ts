/** How long a key is remembered: Stripe's own window, so clients written for Stripe retry alike. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * A claim still `started` this long after it was taken belongs to a request that stopped without
 * an answer (the isolate was evicted mid-request): retries are then told the outcome is unknown.
 */
export const ABANDONED_CLAIM_MS = 5 * 60 * 1000;

/** Response headers a replay carries besides content-type: what tells a client how to treat the answer. */
export const REPLAYED_HEADERS = ["cache-control", "location", "retry-after"] as const;

/**
 * Whether an answer is kept for retries: one whose request acted. A 2xx did; a 402 made a charge
 * attempt (a retry must not try the card again). Every other refusal changed nothing (the API
 * never writes part of a refused request), so a retry with the key, its body fixed or the state
 * changed, runs again.
 */
export const keepsAnswer = (status: number): boolean => (status >= 200 && status < 300) || status === 402;
