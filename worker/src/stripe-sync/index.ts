export { idOf, invoiceSubscriptionId } from "./mirror";
export { Stripe } from "./stripe";
export { rowsById, type SyncFollower, type SyncPart } from "./sync";
