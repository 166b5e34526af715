export { EVENT_CATALOG, eventBody, EventEntitlement } from "./catalog";
export { consumeOutbound } from "./consume";
export { deliverDue, type DeliveryOutcome } from "./deliver";
export { createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, rotateEndpointSecret, updateEndpoint } from "./endpoints";
export { listDeliveries, replayToEndpoint, retryDelivery } from "./history";
export { DELIVERY_POLICY } from "./policy";
export { OUTBOX_RETENTION_MS, pruneOutbox } from "./prune";
export { outboundEventsOfSync } from "./sync-events";
