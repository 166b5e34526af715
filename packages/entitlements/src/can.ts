import type { Decision, EntitlementClaims } from "./claims.js";
import { INDEX, indexOf, type Indexed } from "./internal/decide.js";

/**
 * May the holder of `claims` use `feature`? Pure, synchronous, no allocation on claims returned
 * by `verify()`/`forUser()` (answers are precomputed once per token).
 *
 * `can()` does not look at the clock: time validity is `verify()`'s job, and `forUser()`/`check()`
 * never hand out expired claims.
 */
export function can(claims: EntitlementClaims, feature: string): Decision {
  const index = (claims as Indexed)[INDEX] ?? indexOf(claims);
  return index.decisions.get(feature) ?? index.other;
}
