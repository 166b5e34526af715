/** The agent tools (§9): the registry and its types. */
export { TOOLS, findTool, type Tool, type ToolAccess } from "./registry";
export type { TwinRoute } from "./types";
export { generateRevenueReport } from "./analytics";
export { disputeSummary } from "./disputes";
export { manageDunningProcess } from "./dunning";
export { enforceTierAccess } from "./entitlements";
export { inputJsonSchema, toolManifest } from "./manifest";
export { processRefund } from "./refunds";
export { manageSeats } from "./organizations";
export { processWebhook } from "./stripe-sync";
export { createSubscription } from "./subscriptions";
export { inputFromJson } from "./types";
