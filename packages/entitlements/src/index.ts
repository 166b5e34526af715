export { createEntitlements } from "./create-entitlements.js";
export type { Entitlements, EntitlementsOptions } from "./create-entitlements.js";
export { verifyToken } from "./verify.js";
export type { KeySource, VerifyOptions } from "./verify.js";
export { can } from "./can.js";
export { limit } from "./limit.js";
export { createRemoteKeySet } from "./remote-key-set.js";
export type { RemoteKeySet, RemoteKeySetOptions } from "./remote-key-set.js";
export type {
  BillingCycle,
  Decision,
  DecisionReason,
  EntitlementClaims,
  Price,
  EntitlementStatus,
  Tier,
  UpgradeOffer,
} from "./claims.js";
export * from "./errors.js";
