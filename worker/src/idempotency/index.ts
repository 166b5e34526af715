export { claimIdempotencyKey, type IdempotentRequest } from "./claim";
export { completeIdempotencyKey } from "./complete";
export { keepsAnswer, REPLAYED_HEADERS } from "./policy";
export { pruneIdempotencyKeys } from "./prune";
export { releaseIdempotencyKey } from "./release";
export { requestHash } from "./request-hash";
