/**
 * The one definition of every table. drizzle-kit generates migrations/ from this file
 * (`npm run db:generate`); wrangler applies them (`npm run db:migrate`) and tests read them.
 *
 * Conventions: our own timestamps are integer Unix milliseconds in `*_at` columns; Stripe's
 * Unix-second timestamps are converted to milliseconds when mirrored, so every time in the
 * database compares with every other. Money is integer minor units with a currency column.
 */
import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const ROLES = ["admin", "service", "analyst"] as const;
export type Role = (typeof ROLES)[number];

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    /** The first characters of the key, shown in listings so a person can tell keys apart. */
    prefix: text("prefix").notNull(),
    /** SHA-256 (hex) of the whole key; the key itself is never stored. */
    hash: text("hash").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    /** Set on a key made by rotation: the key it replaces. */
    rotatedFrom: text("rotated_from"),
    createdBy: text("created_by").notNull(),
  },
  (t) => [uniqueIndex("api_keys_hash_uq").on(t.hash)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    /** Dense sequence: a gap means a deleted row. */
    seq: integer("seq").primaryKey(),
    at: integer("at").notNull(),
    actorType: text("actor_type", { enum: ["api_key", "stripe", "cron", "cli", "system"] }).notNull(),
    actorId: text("actor_id").notNull(),
    action: text("action").notNull(),
    subjectType: text("subject_type").notNull(),
    subjectId: text("subject_id").notNull(),
    /** JSON summaries of the subject before and after the change (never secrets or card data). */
    before: text("before"),
    after: text("after"),
    requestId: text("request_id"),
    /**
     * Unique so that two writers racing from the same chain head cannot both append: the
     * loser's batch fails whole (change included) and is retried on the new head.
     */
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_log_prev_hash_uq").on(t.prevHash),
    index("audit_log_subject_idx").on(t.subjectType, t.subjectId),
    index("audit_log_action_idx").on(t.action),
    index("audit_log_at_idx").on(t.at),
  ],
);

export const EVENT_STATUSES = ["pending", "processed", "failed", "parked"] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export const stripeEvents = sqliteTable(
  "stripe_events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    /** Stripe's `created`, converted to ms. */
    createdAt: integer("created_at").notNull(),
    livemode: integer("livemode", { mode: "boolean" }).notNull(),
    apiVersion: text("api_version"),
    /** The id of the object the event is about (data.object.id), for replay and debugging. */
    objectId: text("object_id"),
    payload: text("payload").notNull(),
    receivedAt: integer("received_at").notNull(),
    /** How the event reached us: a signed webhook delivery, reconciliation, or a resync. */
    source: text("source", { enum: ["webhook", "reconcile", "replay"] }).notNull(),
    status: text("status", { enum: EVENT_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    /** Set while a worker holds the event, so an overlapping sweep does not take it too. */
    leaseUntil: integer("lease_until"),
    lastError: text("last_error"),
    processedAt: integer("processed_at"),
  },
  (t) => [
    index("stripe_events_due_idx").on(t.status, t.nextAttemptAt),
    index("stripe_events_created_idx").on(t.createdAt),
  ],
);

/** Small key/value state for crons: reconciliation checkpoints, resync cursors. */
export const syncState = sqliteTable("sync_state", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull().default(sql`0`),
});
