export { caseIdOf } from "./cases";
export { dunningWarnings } from "./health";
export { DUNNING_STAGES, dunningPolicy, type DunningPolicy, type DunningStage, nextStage, stageAt, withOverrides } from "./policy";
export { dunningReport } from "./report";
export { dunningCasesOfSync } from "./sync-follower";
export { dunningTick, dunningTickCases } from "./tick";
