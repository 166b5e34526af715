// The online check answers with the SDK's own decision function, so a decision made over
// HTTP and one made locally from a token can never disagree.
export { can } from "../../../packages/entitlements/src/can";
export type { Decision } from "../../../packages/entitlements/src/claims";
