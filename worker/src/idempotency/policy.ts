/** How long a key is remembered: Stripe's own window, so clients written for Stripe retry alike. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * A claim still `started` this long after it was taken belongs to a request that died (the
 * isolate was evicted mid-request): the same request may then take it over and run again.
 */
export const ABANDONED_CLAIM_MS = 5 * 60 * 1000;

/** Printable ASCII without spaces, as long as Stripe allows: a UUID, a hash or the client's own id. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
