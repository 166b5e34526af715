export { EVENT_TYPES, type EventType, newEventId, type OutboxEvent, outboxStatements } from "./events";
