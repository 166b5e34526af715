// The online check answers with the SDK's own decision function, so a decision made over
// HTTP and one made locally from a token can never disagree.
export { can } from "@federal-job-advisor/entitlements";
export type { Decision } from "@federal-job-advisor/entitlements";
