export { monitorAndAlert } from "./alerts";
export { dunningBacklog, parkedEvents, webhookLag } from "./backlogs";
export { cronStatuses, recordCronFinish, recordCronStart } from "./crons";
export { healthReport } from "./health";
export { pruneAlerts } from "./prune";
export { MONITORING_THRESHOLDS } from "./thresholds";
export { deploymentChecks, type DeploymentReport } from "./deployment";
