// What other folders use of refunds: the API's refund and list, the policy, and the event action wiring.ts names.
export { createRefund, type RefundInput, type RefundDeps } from "./create";
export { listRefunds, refundView, type RefundPage, type RefundView } from "./list";
export { refundEventAction, endAccessNow, applyRefundPolicy, decideRefund, coversCurrentPeriod, type RefundDecision } from "./access";
export { refundPolicy, decideAccess, type RefundPolicy, REFUND_ACCESS_ACTIONS } from "./policy";
