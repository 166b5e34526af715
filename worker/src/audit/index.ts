export { auditWriter } from "./append";
export type { Actor, AuditEntry } from "./chain";
export { checkpointKey, type CheckpointKey } from "./checkpoint-key";
export { checkpointAuditHead } from "./checkpoint";
export { listAudit } from "./query";
export { verifyAuditChain } from "./verify";
export { BREAK_REASONS } from "./walk";
