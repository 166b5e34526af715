export { CONTROLS } from "./controls";
export { reportMarkdown } from "./markdown";
export { complianceReport, EVIDENCE_IDS } from "./report";
