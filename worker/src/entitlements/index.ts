export { checkFeature, currentEntitlement, issueToken, publicKeys } from "./access";
export { CURSOR_PATTERN, DEFAULT_CHANGES_LIMIT, listEntitlementChanges, MAX_CHANGES_LIMIT } from "./changes";
export { can } from "./decide";
export { loadSigningKeys } from "./keys";
export { pruneEntitlementChanges } from "./prune-changes";
export { deriveEntitlement, entitlementSummary, type GraceAnchors, readEntitlement, readEntitlementVersioned, sameState, upsertEntitlement } from "./state";
export { suspendLapsed, suspensionOf } from "./suspend";
export { isUserId, userIdFrom } from "./user-id";
