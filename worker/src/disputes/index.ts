// What other folders use of disputes: the list, the account's flags, the policy, and the event action wiring.ts names.
export { listDisputes, disputeView, accountFlags, type DisputeView, type DisputePage, type DisputeFilter, type AccountFlag } from "./list";
export { disputeEventAction } from "./action";
export { disputePolicy, decideDispute, type DisputePolicy } from "./policy";
