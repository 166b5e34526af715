/**
 * Days a past-due subscriber keeps access after the first failed payment of the oldest unpaid
 * invoice. Its own module: the dunning policy checks its suspension day against it, and the
 * services factory builds that policy, so importing it must not pull in entitlements/state.ts.
 */
export const GRACE_DAYS = 21;
