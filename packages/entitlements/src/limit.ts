import type { EntitlementClaims } from "./claims.js";
import { INDEX, indexOf, type Indexed } from "./internal/decide.js";

/**
 * The numeric limit `name` for the holder of `claims`: a number, `null` for unlimited, or `0`
 * when the user is not entitled to it (unknown limit, or a status that denies access).
 */
export function limit(claims: EntitlementClaims, name: string): number | null {
  const limits = ((claims as Indexed)[INDEX] ?? indexOf(claims)).limits;
  const v = limits.get(name);
  return v === undefined ? 0 : v;
}
