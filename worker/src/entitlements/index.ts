export { checkFeature, currentEntitlement, issueToken, publicKeys } from "./access";
export { CURSOR_PATTERN, DEFAULT_CHANGES_LIMIT, listEntitlementChanges, MAX_CHANGES_LIMIT } from "./changes";
export type { ClaimsConfig } from "./claims";
export { can } from "./decide";
export { type LoadedKeys, loadSigningKeys } from "./keys";
export { pruneEntitlementChanges } from "./prune-changes";
export { deriveEntitlement, entitlementSummary, type GraceAnchors, readEntitlement, readEntitlementVersioned, sameState, upsertEntitlement } from "./state";
export { suspendLapsed, suspensionOf } from "./suspend";
export { isUserId, USER_ID_PATTERN, userIdFrom } from "./user-id";
