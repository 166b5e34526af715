// Dispute evidence from the system's own records: built (build.ts), sent to Stripe (submit.ts).
export { buildEvidence, servicePeriod, type DisputeEvidence, type Evidence } from "./build";
export { assertAnswerable, sendEvidence, type EvidenceResult } from "./submit";
