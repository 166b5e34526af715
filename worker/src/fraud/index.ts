// What other folders use of fraud/: the event action wiring.ts names, and the policy.
export { fraudWarningEventAction, FRAUD_WARNING_EVENTS, WARNING_METADATA_KEY } from "./warning";
export { fraudWarningPolicy, type FraudWarningPolicy } from "./policy";
