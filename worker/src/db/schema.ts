/**
 * The one definition of every table. drizzle-kit generates migrations/ from this file
 * (`npm run db:generate`); wrangler applies them (`npm run db:migrate`) and tests read them.
 *
 * Conventions: our own timestamps are integer Unix milliseconds in `*_at` columns; Stripe's
 * Unix-second timestamps are converted to milliseconds when mirrored, so every time in the
 * database compares with every other. Money is integer minor units with a currency column.
 */
import type { EntitlementStatus as SdkEntitlementStatus } from "@federal-job-advisor/entitlements";
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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

/** Who made a change: a keyed request, Stripe (an event), a cron, the CLI, or the system itself. */
export const ACTOR_TYPES = ["api_key", "stripe", "cron", "cli", "system"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const auditLog = sqliteTable(
  "audit_log",
  {
    /** Dense sequence: a gap means a deleted row. */
    seq: integer("seq").primaryKey(),
    at: integer("at").notNull(),
    actorType: text("actor_type", { enum: ACTOR_TYPES }).notNull(),
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

/**
 * Signed checkpoints of the audit chain's head (audit/checkpoint.ts): the MAC is HMAC-SHA256
 * under AUDIT_CHECKPOINT_SECRET, which whoever edits this database does not hold. The seq is the
 * key, so two cron runs signing the same head at once store one checkpoint.
 */
export const auditCheckpoints = sqliteTable("audit_checkpoints", {
  seq: integer("seq").primaryKey(),
  /** The audit row's hash at that seq when the checkpoint was made. */
  hash: text("hash").notNull(),
  at: integer("at").notNull(),
  /** Hex HMAC-SHA256 over `{purpose, seq, hash, at}` (audit/checkpoint-key.ts). */
  mac: text("mac").notNull(),
});

/** pending: to process (again, after `next_attempt_at`); parked: gave up after the retry limit. */
export const EVENT_STATUSES = ["pending", "processed", "parked"] as const;
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
    /**
     * How the event reached us: a signed webhook delivery or reconciliation; `replay` once an
     * admin has requeued it (its processing then refetches everything it is about).
     */
    source: text("source", { enum: ["webhook", "reconcile", "replay"] }).notNull(),
    status: text("status", { enum: EVENT_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    /** Set while a worker holds the event, so an overlapping sweep does not take it too. */
    leaseUntil: integer("lease_until"),
    lastError: text("last_error"),
    processedAt: integer("processed_at"),
  },
  (t) => [index("stripe_events_due_idx").on(t.status, t.nextAttemptAt), index("stripe_events_created_idx").on(t.createdAt)],
);

/** Small key/value state for crons: reconciliation checkpoints, resync cursors. */
export const syncState = sqliteTable("sync_state", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull().default(sql`0`),
});

// ---------------------------------------------------------------------------------------
// The Stripe mirror. Rows are written only by stripe-sync/sync.ts from objects fetched from Stripe,
// so the mirror converges on Stripe's state whatever order events arrive in.

export const customers = sqliteTable(
  "customers",
  {
    id: text("id").primaryKey(),
    /** Our user id (Stripe metadata.user_id); null for a customer made outside our flows. */
    userId: text("user_id"),
    email: text("email"),
    name: text("name"),
    country: text("country"),
    state: text("state"),
    currency: text("currency"),
    /** invoice_settings.default_payment_method: what Stripe charges when a subscription names none. */
    defaultPaymentMethodId: text("default_payment_method_id"),
    /**
     * The first instant (ms, UTC) after that payment method's card expiry month; null when there
     * is none or it is not a card. Only the expiry month is kept: no number, CVC or fingerprint.
     */
    cardExpiresAt: integer("card_expires_at"),
    /**
     * Stripe's test_clock (test mode): the customer lives on that clock's time. Kept so whatever
     * reads the customer later (dunning, grace, access) knows it without fetching the customer.
     */
    testClock: text("test_clock"),
    deleted: integer("deleted", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [index("customers_user_idx").on(t.userId)],
);

export const SUBSCRIPTION_STATUSES = ["incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"] as const;

export const subscriptions = sqliteTable(
  "subscriptions",
  {
    id: text("id").primaryKey(),
    customerId: text("customer_id").notNull(),
    userId: text("user_id"),
    status: text("status", { enum: SUBSCRIPTION_STATUSES }).notNull(),
    /** Catalog tier, from the price's lookup key (null when the price is not in the catalog). */
    tier: text("tier"),
    priceId: text("price_id").notNull(),
    lookupKey: text("lookup_key"),
    interval: text("interval", { enum: ["day", "week", "month", "year"] }).notNull(),
    intervalCount: integer("interval_count").notNull().default(1),
    unitAmount: integer("unit_amount").notNull(),
    currency: text("currency").notNull(),
    quantity: integer("quantity").notNull().default(1),
    /** Coupon id of the discount in force, if any. */
    discount: text("discount"),
    /** Monthly recurring revenue of this subscription now, integer cents, after discount. */
    mrr: integer("mrr").notNull(),
    cancelAtPeriodEnd: integer("cancel_at_period_end", { mode: "boolean" }).notNull().default(false),
    /** When a requested cancellation takes effect (Stripe's cancel_at). */
    cancelAt: integer("cancel_at"),
    /** Payment collection paused (Stripe's pause_collection.behavior), null when collecting. */
    pauseBehavior: text("pause_behavior", { enum: ["keep_as_draft", "mark_uncollectible", "void"] }),
    /** When a paused collection resumes by itself; null: until resumed. */
    pauseResumesAt: integer("pause_resumes_at"),
    /** The subscription schedule managing a change at the period end, if any. */
    scheduleId: text("schedule_id"),
    canceledAt: integer("canceled_at"),
    endedAt: integer("ended_at"),
    trialStart: integer("trial_start"),
    trialEnd: integer("trial_end"),
    currentPeriodStart: integer("current_period_start"),
    currentPeriodEnd: integer("current_period_end"),
    /** The subscription's own default_payment_method; when null Stripe charges the customer's. */
    defaultPaymentMethodId: text("default_payment_method_id"),
    /** As customers.card_expires_at, for the subscription's own payment method. */
    cardExpiresAt: integer("card_expires_at"),
    /** Stripe's test_clock (test mode), as customers.test_clock. */
    testClock: text("test_clock"),
    createdAt: integer("created_at").notNull(),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [
    index("subscriptions_customer_idx").on(t.customerId),
    index("subscriptions_user_idx").on(t.userId),
    // currency too, so the report's count of trialing and past-due subscriptions reads the index alone.
    index("subscriptions_status_idx").on(t.status, t.currency),
    // Trials only, in id order: the report's trial cohorts read a third of the rows instead of the
    // table, and look up each one's history in the order of subscription_history's index.
    index("subscriptions_trial_idx").on(t.currency, t.id, t.trialStart).where(sql`${t.trialStart} is not null`),
  ],
);

/** One row per observed change of status, price, quantity or discount: analytics reads this. */
export const subscriptionHistory = sqliteTable(
  "subscription_history",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    subscriptionId: text("subscription_id").notNull(),
    customerId: text("customer_id").notNull(),
    userId: text("user_id"),
    at: integer("at").notNull(),
    status: text("status").notNull(),
    tier: text("tier"),
    priceId: text("price_id").notNull(),
    unitAmount: integer("unit_amount").notNull(),
    currency: text("currency").notNull(),
    quantity: integer("quantity").notNull(),
    discount: text("discount"),
    mrr: integer("mrr").notNull(),
    /** Which fields changed: comma-separated of created,status,price,quantity,discount. */
    changes: text("changes").notNull(),
    /** What made us look: the event id, `resync` or `reconcile`. */
    cause: text("cause").notNull(),
  },
  (t) => [
    index("subscription_history_sub_idx").on(t.subscriptionId, t.at),
    index("subscription_history_at_idx").on(t.at),
    // Analytics' MRR changes: one pass per subscription in write order without touching the table.
    index("subscription_history_mrr_idx").on(t.subscriptionId, t.id, t.at, t.currency, t.status, t.mrr, t.customerId),
    // Rederiving one customer's MRR timeline (customer_mrr_months) reads their rows by this.
    index("subscription_history_customer_idx").on(t.customerId, t.subscriptionId),
  ],
);

/**
 * Analytics' MRR timeline per customer: one row per (currency, customer, UTC month) in which the
 * customer's counted MRR changed, derived from subscription_history, subscriptions and dunning
 * suspensions by triggers (migration 0017, analytics_mrr_triggers) in the same transaction as every write to those, so
 * it is never stale and the report reads months instead of re-deriving every history row.
 * Written only by those triggers.
 */
export const customerMrrMonths = sqliteTable(
  "customer_mrr_months",
  {
    currency: text("currency").notNull(),
    customerId: text("customer_id").notNull(),
    /** Months since year 0 (year × 12 + month − 1), UTC. */
    month: integer("month").notNull(),
    /** The month's net change of the customer's MRR (cents; never 0). */
    d: integer("d").notNull(),
    /** The customer's MRR at the end of the month (cents). */
    closing: integer("closing").notNull(),
    /** The latest earlier month of a change made while the customer was paying; null if none. */
    paidChangeBefore: integer("paid_change_before"),
  },
  (t) => [
    // Customer first: the triggers rederive one customer at a time (delete by customer_id).
    index("customer_mrr_months_customer_idx").on(t.customerId, t.currency, t.month, t.closing),
    index("customer_mrr_months_month_idx").on(t.currency, t.month, t.d, t.closing, t.paidChangeBefore),
  ],
);

/** Customers whose customer_mrr_months rows are being rederived (transient, inside a trigger). */
export const customerMrrDirty = sqliteTable("customer_mrr_dirty", { customerId: text("customer_id").notNull() });

/**
 * Analytics' current figures per customer: for each (customer, currency, tier) the MRR counting
 * now (active or past due, not suspended) and the customer's standing there as a rank (0 active,
 * 1 past due, 2 suspended, 3 trialing, 4 paused, 5 unpaid, 6 incomplete, 7 canceled,
 * 8 incomplete expired, 9 other; analytics/report.ts CURRENT_STANDING names them). Rederived
 * from subscriptions and dunning cases by a trigger whenever customer_mrr_dirty marks the
 * customer (migration 0022), in the same transaction as the write, so the report's `current`
 * reads one row per customer instead of deriving each subscription's standing.
 * Written only by that trigger.
 */
export const customerCurrent = sqliteTable(
  "customer_current",
  {
    customerId: text("customer_id").notNull(),
    currency: text("currency").notNull(),
    /** The subscriptions' tier, or `other` for a price outside the catalog. */
    tier: text("tier").notNull(),
    mrr: integer("mrr").notNull(),
    standing: integer("standing").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.customerId, t.currency, t.tier] }),
    index("customer_current_currency_idx").on(t.currency, t.customerId, t.mrr, t.standing, t.tier),
    // The report's MRR by tier, grouped in index order rather than sorted.
    index("customer_current_tier_idx").on(t.currency, t.tier, t.mrr),
  ],
);

/**
 * Revenue by the UTC month invoices were paid in: totals less tax of paid invoices, kept by
 * triggers on invoices (migration 0022) that add and take away each invoice's amount as it is
 * written, so a report reads a row per month instead of summing every paid invoice.
 * Written only by those triggers.
 */
export const invoiceRevenueMonths = sqliteTable(
  "invoice_revenue_months",
  {
    currency: text("currency").notNull(),
    /** Months since year 0 (year × 12 + month − 1), UTC, as customer_mrr_months.month. */
    month: integer("month").notNull(),
    revenue: integer("revenue").notNull(),
    invoices: integer("invoices").notNull(),
  },
  (t) => [primaryKey({ columns: [t.currency, t.month] })],
);

export const INVOICE_STATUSES = ["draft", "open", "paid", "uncollectible", "void"] as const;

export const invoices = sqliteTable(
  "invoices",
  {
    id: text("id").primaryKey(),
    customerId: text("customer_id").notNull(),
    subscriptionId: text("subscription_id"),
    userId: text("user_id"),
    status: text("status", { enum: INVOICE_STATUSES }).notNull(),
    billingReason: text("billing_reason"),
    currency: text("currency").notNull(),
    subtotal: integer("subtotal").notNull(),
    tax: integer("tax").notNull(),
    discountTotal: integer("discount_total").notNull(),
    total: integer("total").notNull(),
    amountDue: integer("amount_due").notNull(),
    amountPaid: integer("amount_paid").notNull(),
    amountRemaining: integer("amount_remaining").notNull(),
    /** Credit notes issued on the invoice after it was paid (Stripe's post_payment_credit_notes_amount): refunds and balance credits. */
    amountCredited: integer("amount_credited").notNull().default(0),
    attemptCount: integer("attempt_count").notNull(),
    periodStart: integer("period_start"),
    periodEnd: integer("period_end"),
    hostedInvoiceUrl: text("hosted_invoice_url"),
    createdAt: integer("created_at").notNull(),
    paidAt: integer("paid_at"),
    syncedAt: integer("synced_at").notNull(),
  },
  // Revenue by paid date is invoice_revenue_months, kept by triggers (migration 0022).
  (t) => [index("invoices_customer_idx").on(t.customerId), index("invoices_subscription_idx").on(t.subscriptionId), index("invoices_status_idx").on(t.status, t.createdAt)],
);

/**
 * The lines of finalized invoices, as Stripe has them: what each line charged for which service
 * period, so revenue can be recognized over it (analytics/recognition.ts). Written by
 * stripe-sync with its invoice; a finalized invoice's lines never change, so a line is written
 * once and kept. `amount` is the line's revenue: Stripe's amount less its discounts and any
 * tax included in it, in the invoice's currency (a proration credit is negative).
 */
export const invoiceLines = sqliteTable(
  "invoice_lines",
  {
    id: text("id").primaryKey(),
    invoiceId: text("invoice_id").notNull(),
    currency: text("currency").notNull(),
    amount: integer("amount").notNull(),
    /** The service period (ms, UTC) from Stripe's line `period`: start inclusive, end exclusive. */
    periodStart: integer("period_start").notNull(),
    periodEnd: integer("period_end").notNull(),
    proration: integer("proration", { mode: "boolean" }).notNull(),
  },
  // Recognition reads the lines still being recognized after a month start.
  (t) => [index("invoice_lines_invoice_idx").on(t.invoiceId), index("invoice_lines_period_end_idx").on(t.periodEnd)],
);

export const REFUND_REASONS = ["requested_by_customer", "duplicate", "fraudulent", "service_issue"] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

/**
 * Refunds of the charges that paid invoices, as Stripe has them (stripe-sync/sync.ts writes them
 * from `refunds.list` of the charge): made through POST /v1/refunds (a credit note with a refund)
 * or in the Stripe dashboard alike.
 */
export const refunds = sqliteTable(
  "refunds",
  {
    id: text("id").primaryKey(),
    chargeId: text("charge_id").notNull(),
    /** The invoice the charge paid; null for a charge of no invoice. */
    invoiceId: text("invoice_id"),
    subscriptionId: text("subscription_id"),
    /** The credit note that accounts for this refund, when there is one. */
    creditNoteId: text("credit_note_id"),
    customerId: text("customer_id"),
    userId: text("user_id"),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    /** Stripe's: pending, requires_action, succeeded, failed, canceled. */
    status: text("status").notNull(),
    /** The API's reason (the credit note's metadata.refund_reason), else Stripe's refund reason. */
    reason: text("reason"),
    createdAt: integer("created_at").notNull(),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [index("refunds_user_idx").on(t.userId, t.createdAt), index("refunds_invoice_idx").on(t.invoiceId), index("refunds_created_idx").on(t.createdAt)],
);

/** Credit notes on invoices, as Stripe has them: how much of an invoice was refunded, credited to the balance or settled out of band. */
export const creditNotes = sqliteTable(
  "credit_notes",
  {
    id: text("id").primaryKey(),
    invoiceId: text("invoice_id").notNull(),
    customerId: text("customer_id").notNull(),
    userId: text("user_id"),
    number: text("number"),
    status: text("status").notNull(),
    amount: integer("amount").notNull(),
    refundAmount: integer("refund_amount").notNull(),
    currency: text("currency").notNull(),
    reason: text("reason"),
    createdAt: integer("created_at").notNull(),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [index("credit_notes_invoice_idx").on(t.invoiceId)],
);

export const DISPUTE_STATUSES = ["warning_needs_response", "warning_under_review", "warning_closed", "needs_response", "under_review", "won", "lost", "prevented"] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];
/** A closed dispute's statuses, the one list: it takes no evidence, and the mirror dates its close (`closed_at`). */
export const CLOSED_DISPUTE_STATUSES: ReadonlySet<string> = new Set<DisputeStatus>(["won", "lost", "warning_closed", "prevented"]);
/** Of those, the ones closed in the merchant's favour (all but lost): nothing is left to decide, a flag is lifted. */
export const CLEARED_DISPUTE_STATUSES: ReadonlySet<string> = new Set([...CLOSED_DISPUTE_STATUSES].filter((s) => s !== "lost"));
/** What the dispute policy does to the disputed account (disputes/policy.ts). */
export const DISPUTE_POLICY_ACTIONS = ["end_access", "flag_account"] as const;
export type DisputePolicyAction = (typeof DISPUTE_POLICY_ACTIONS)[number];

/**
 * Disputes (chargebacks) of the charges that paid invoices, as Stripe has them (written only by
 * stripe-sync from the fetched dispute). `fee` is what Stripe withdrew for the dispute (its
 * balance transactions' fees, in the dispute's currency), 0 until it is withdrawn.
 */
export const disputes = sqliteTable(
  "disputes",
  {
    id: text("id").primaryKey(),
    chargeId: text("charge_id").notNull(),
    invoiceId: text("invoice_id"),
    subscriptionId: text("subscription_id"),
    customerId: text("customer_id"),
    userId: text("user_id"),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    /** Stripe's reason: fraudulent, unrecognized, product_not_received, duplicate, general, ... */
    reason: text("reason").notNull(),
    status: text("status").notNull(),
    fee: integer("fee").notNull().default(0),
    /** evidence_details.due_by (ms, UTC); null once no response is possible. */
    evidenceDueBy: integer("evidence_due_by"),
    /** evidence_details.submission_count > 0 as Stripe reports it. */
    evidenceSubmitted: integer("evidence_submitted", { mode: "boolean" }).notNull().default(false),
    /**
     * What the dispute policy decided (disputes/policy.ts): `end_access` or `flag_account`, as
     * the dispute's Stripe metadata `access_policy` keeps it; null until decided.
     */
    policyAction: text("policy_action", { enum: DISPUTE_POLICY_ACTIONS }),
    createdAt: integer("created_at").notNull(),
    /** When the worker first saw the dispute as won or lost (the customer's clock); null while open. */
    closedAt: integer("closed_at"),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [index("disputes_user_idx").on(t.userId, t.createdAt), index("disputes_created_idx").on(t.createdAt), index("disputes_status_idx").on(t.status, t.createdAt)],
);

/**
 * Radar early fraud warnings: an issuer's report that a charge was fraudulent, before any dispute.
 * `actionedAt` is set once the policy for an actionable warning has been carried out (refund,
 * cancellation, end of access), so a redelivered event never does it twice.
 */
export const earlyFraudWarnings = sqliteTable(
  "early_fraud_warnings",
  {
    id: text("id").primaryKey(),
    chargeId: text("charge_id").notNull(),
    invoiceId: text("invoice_id"),
    subscriptionId: text("subscription_id"),
    customerId: text("customer_id"),
    userId: text("user_id"),
    /** Stripe's fraud_type: card_never_received, fraudulent_card_application, made_with_counterfeit_card, made_with_lost_card, made_with_stolen_card, misc, unauthorized_use_of_card. */
    fraudType: text("fraud_type").notNull(),
    actionable: integer("actionable", { mode: "boolean" }).notNull(),
    /** The warned charge's amount and currency (a warning has none of its own): the report counts warnings per currency. */
    amount: integer("amount"),
    currency: text("currency"),
    createdAt: integer("created_at").notNull(),
    actionedAt: integer("actioned_at"),
    syncedAt: integer("synced_at").notNull(),
  },
  (t) => [index("early_fraud_warnings_created_idx").on(t.createdAt), index("early_fraud_warnings_charge_idx").on(t.chargeId)],
);

/** What made an access log row: an allowed online check (POST /v1/entitlements/check) or a token issued that grants a feature. */
export const ACCESS_KINDS = ["check", "token"] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];

/**
 * The access activity log (entitlements/access-log.ts): how often and when a user's access was
 * checked and allowed, the evidence a dispute answers with. One counter row per user, second and
 * kind, upserted, so a busy client costs a row per second rather than per check, and a count
 * between two whole seconds (Stripe's periods are) is exact. Instants are on the customer's
 * clock (a Stripe test clock's, in test mode). Nothing personal beyond the user id the worker has.
 */
export const accessChecks = sqliteTable(
  "access_checks",
  {
    userId: text("user_id").notNull(),
    /** The Unix second (customer's clock) the checks fell in. */
    second: integer("second").notNull(),
    kind: text("kind", { enum: ACCESS_KINDS }).notNull(),
    count: integer("count").notNull(),
    /** The first and last of them (ms, customer's clock). */
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    /** The end (ms) of the billing period they fell in, as the entitlement knew it (else the check's own time). */
    periodEnd: integer("period_end").notNull(),
    /**
     * That period's end on real time (ms): the write's real time plus what was left of the period
     * on the customer's clock. The retention counts from it, so a test clock far behind or ahead
     * of real time keeps its rows as long as a customer on real time.
     */
    retainFrom: integer("retain_from").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.userId, t.second, t.kind] }), index("access_checks_retain_from_idx").on(t.retainFrom)],
);

/** Each payment attempt on an invoice, with the decline code when it failed (no card data). */
export const paymentAttempts = sqliteTable(
  "payment_attempts",
  {
    /** The Stripe event that reported it: one attempt, one row, however often it is delivered. */
    id: text("id").primaryKey(),
    invoiceId: text("invoice_id").notNull(),
    customerId: text("customer_id").notNull(),
    at: integer("at").notNull(),
    outcome: text("outcome", { enum: ["succeeded", "failed"] }).notNull(),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    attempt: integer("attempt").notNull(),
    declineCode: text("decline_code"),
    failureCode: text("failure_code"),
  },
  (t) => [
    index("payment_attempts_invoice_idx").on(t.invoiceId, t.at),
    // The failed-payment spike alert (monitoring/alerts.ts) counts failures by time: a range, not a pass over every attempt.
    index("payment_attempts_outcome_at_idx").on(t.outcome, t.at),
  ],
);

/**
 * Retention offers shown to canceling subscribers (subscriptions/cancel.ts): at most one per user,
 * ever, so the unique user id is also what stops two racing cancel requests from both offering.
 */
export const RETENTION_OFFER_KINDS = ["downgrade", "discount"] as const;
export const retentionOffers = sqliteTable(
  "retention_offers",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    subscriptionId: text("subscription_id").notNull(),
    kind: text("kind", { enum: RETENTION_OFFER_KINDS }).notNull(),
    /** The offer's terms as JSON (subscriptions/cancel.ts OfferTerms): `{ to_tier, amount }` or `{ percent_off, duration, duration_in_months?, amount }`. */
    terms: text("terms").notNull(),
    description: text("description").notNull(),
    status: text("status", { enum: ["open", "accepted", "declined"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    decidedAt: integer("decided_at"),
  },
  (t) => [uniqueIndex("retention_offers_user_uq").on(t.userId)],
);

/**
 * Every cancellation request with its reason and feedback, for churn analysis: `offered` when a
 * retention offer was shown instead, `canceled` when the cancellation was scheduled.
 */
export const CANCELLATION_REASONS = ["too_expensive", "missing_features", "switched_service", "unused", "customer_service", "too_complex", "low_quality", "other"] as const;
export const cancellationRequests = sqliteTable(
  "cancellation_requests",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: text("user_id").notNull(),
    subscriptionId: text("subscription_id").notNull(),
    at: integer("at").notNull(),
    reason: text("reason", { enum: CANCELLATION_REASONS }).notNull(),
    feedback: text("feedback"),
    outcome: text("outcome", { enum: ["offered", "canceled"] }).notNull(),
    offerId: text("offer_id"),
    /** When the cancellation takes effect (the period end), for `canceled`. */
    cancelAt: integer("cancel_at"),
  },
  (t) => [index("cancellation_requests_user_idx").on(t.userId, t.at), index("cancellation_requests_at_idx").on(t.at)],
);

/** The SDK's `EntitlementStatus`, listed here for the column; the two must name the same set. */
export const ENTITLEMENT_STATUSES = ["trialing", "active", "past_due", "paused", "suspended", "canceled", "trial_expired", "none"] as const satisfies readonly SdkEntitlementStatus[];
export type EntitlementStatus = (typeof ENTITLEMENT_STATUSES)[number];
// Fails to compile when the SDK gains a status this list lacks.
const _sameStatuses: readonly EntitlementStatus[] = [] as SdkEntitlementStatus[];

/** What each user may use now, recomputed in the same batch as every change that affects it. */
export const entitlements = sqliteTable(
  "entitlements",
  {
    userId: text("user_id").primaryKey(),
    customerId: text("customer_id"),
    subscriptionId: text("subscription_id"),
    tier: text("tier"),
    status: text("status", { enum: ENTITLEMENT_STATUSES }).notNull(),
    trialEnd: integer("trial_end"),
    /** past_due: when access will be suspended. */
    graceUntil: integer("grace_until"),
    /** Set by dunning on day 21; cleared when the invoice is paid. */
    suspendedAt: integer("suspended_at"),
    currentPeriodEnd: integer("current_period_end"),
    /** Set when the access comes from a seat of this organization (tier agency), not from the user's own subscription. */
    orgId: text("org_id"),
    updatedAt: integer("updated_at").notNull(),
    /** Bumped by every write: a write computed from version n lands only while the row is at n. */
    version: integer("version").notNull().default(0),
  },
  (t) => [
    // The lapsed-grace sweep (every minute) reads past-due rows whose grace ended, not the table.
    index("entitlements_grace_idx").on(t.status, t.graceUntil),
  ],
);

/**
 * An organization's standing: `pending` while POST /v1/organizations is making its Stripe objects,
 * `active` through its term, `ended` after it; `suspended` only when the catalog's policy sets
 * `suspend_after_days_overdue` and an invoice is that late (organizations/reminders.ts): its seats
 * grant nothing until it is paid. A text column: the value needs no migration.
 */
export const ORGANIZATION_STATUSES = ["pending", "active", "ended", "suspended"] as const;
export type OrganizationStatus = (typeof ORGANIZATION_STATUSES)[number];

/**
 * An organization (a federal agency) that buys seats for its people: one Stripe customer and
 * one subscription of `seats` seats on net terms for a fixed term (organizations/). The row is
 * written `pending` before anything is made in Stripe, so two requests for one org_id cannot both
 * make a customer; `version` guards every later write as entitlements' does.
 */
export const organizations = sqliteTable(
  "organizations",
  {
    orgId: text("org_id").primaryKey(),
    name: text("name").notNull(),
    billingEmail: text("billing_email").notNull(),
    customerId: text("customer_id"),
    subscriptionId: text("subscription_id"),
    /** Seats bought; organization_members holds at most this many rows for the org. */
    seats: integer("seats").notNull(),
    termMonths: integer("term_months").notNull(),
    termStart: integer("term_start"),
    termEnd: integer("term_end"),
    poNumber: text("po_number"),
    status: text("status", { enum: ORGANIZATION_STATUSES }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    version: integer("version").notNull().default(0),
  },
  (t) => [uniqueIndex("organizations_subscription_uq").on(t.subscriptionId), index("organizations_customer_idx").on(t.customerId)],
);

/** Who holds a seat of an organization. A seat is taken by one conditional insert (organizations/members.ts), so the seats are never exceeded. */
export const organizationMembers = sqliteTable(
  "organization_members",
  {
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    assignedAt: integer("assigned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("organization_members_user_idx").on(t.userId)],
);

/**
 * The entitlement changes feed (`GET /v1/entitlements/changes`): one row per write of an
 * `entitlements` row, in the same D1 batch (`upsertEntitlement` returns both statements), so a
 * change and its row commit or fail together. `seq` orders the feed: D1 runs one write at a
 * time, so the committed rows are always a prefix of the sequence and a reader that resumes
 * after the last seq it saw misses nothing. AUTOINCREMENT: a seq is never reused.
 */
export const entitlementChanges = sqliteTable(
  "entitlement_changes",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    userId: text("user_id").notNull(),
    /** The entitlement row's `updated_at` (ms). */
    changedAt: integer("changed_at").notNull(),
    /** The state written, for operators reading the table (the feed itself names users only). */
    status: text("status", { enum: ENTITLEMENT_STATUSES }).notNull(),
    tier: text("tier"),
  },
  // The retention prune finds the newest change past its week without reading the table.
  (t) => [index("entitlement_changes_changed_idx").on(t.changedAt)],
);

/**
 * Always empty. A batch that derived its writes from rows it read first adds one statement per
 * read: "insert a 0 here unless the row is still as read". The CHECK turns a stale read into an
 * error, D1 rolls the whole batch back, and the writer recomputes from the new state
 * (db/guard.ts, audit/append.ts). This is how several isolates write derived state safely.
 */
export const writeGuards = sqliteTable("write_guards", { ok: integer("ok").notNull() }, (t) => [check("stale_read", sql`${t.ok} = 1`)]);

/**
 * The email outbox (email/outbox.ts): every dunning and lifecycle email, rendered when it is
 * enqueued and sent by the minute sweep (email/sweep.ts). The idempotency key (`<case or
 * user>:<step>`) is unique, so enqueuing the same step twice stores one email; a sweep takes a
 * due row by a conditional UPDATE of its lease, so two overlapping sweeps never send it twice.
 */
/** `suppressed`: never sent, because its recipient's emails of that kind are suppressed (email_suppressions). */
export const EMAIL_STATUSES = ["pending", "sending", "sent", "failed", "suppressed"] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

export const emailOutbox = sqliteTable(
  "email_outbox",
  {
    id: text("id").primaryKey(),
    idempotencyKey: text("idempotency_key").notNull(),
    to: text("to").notNull(),
    userId: text("user_id"),
    template: text("template").notNull(),
    subject: text("subject").notNull(),
    text: text("text").notNull(),
    html: text("html").notNull(),
    status: text("status", { enum: EMAIL_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When the next send may happen; null once sent or failed. */
    nextAttemptAt: integer("next_attempt_at"),
    /** Set while a sweep holds the row (`sending`); past it, another sweep may take it over. */
    leaseUntil: integer("lease_until"),
    /** The transport that sent it (`log`, `resend`, `cloudflare`, `smtp`) and its message id. */
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    sentAt: integer("sent_at"),
  },
  (t) => [
    uniqueIndex("email_outbox_key_uq").on(t.idempotencyKey),
    index("email_outbox_due_idx").on(t.status, t.nextAttemptAt),
    index("email_outbox_user_idx").on(t.userId, t.createdAt),
    index("email_outbox_created_idx").on(t.createdAt),
  ],
);

/**
 * Customers the outbox must not email, per kind of email (email/templates.ts EMAIL_CATEGORIES):
 * the sweep marks their pending emails of a suppressed kind `suppressed` instead of sending them.
 * Written by a policy (fraud/: an actionable early fraud warning suppresses dunning, lifecycle
 * and marketing email); one row per user and kind, so a second suppression is a no-op.
 */
export const EMAIL_CATEGORIES = ["dunning", "lifecycle", "marketing", "admin"] as const;
export type EmailCategory = (typeof EMAIL_CATEGORIES)[number];
export const emailSuppressions = sqliteTable(
  "email_suppressions",
  {
    userId: text("user_id").notNull(),
    category: text("category", { enum: EMAIL_CATEGORIES }).notNull(),
    /** The customer's address when suppressed: an email enqueued to it without the user id is held too. */
    address: text("address"),
    /** Why, for operators: e.g. `early_fraud_warning issfr_...`. */
    reason: text("reason").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.category] }), index("email_suppressions_address_idx").on(t.address)],
);

/**
 * Dunning (worker/src/dunning): one case per unpaid invoice, opened by its first failed payment
 * in the sync's batch and anchored at that failure (Stripe's time). The tick selects open cases
 * through (status, next_action_at), and for customers on a Stripe test clock through
 * (status, test_clock, next_action_at) with that clock's frozen time.
 */
export const DUNNING_CASE_STATUSES = ["open", "recovered", "canceled", "suspended"] as const;
export type DunningCaseStatus = (typeof DUNNING_CASE_STATUSES)[number];

export const dunningCases = sqliteTable(
  "dunning_cases",
  {
    id: text("id").primaryKey(),
    invoiceId: text("invoice_id").notNull(),
    subscriptionId: text("subscription_id").notNull(),
    customerId: text("customer_id").notNull(),
    userId: text("user_id"),
    /** The Stripe test clock the customer is on (test mode), whose frozen time is dunning's now. */
    testClock: text("test_clock"),
    /** The first failed payment of the invoice (Stripe's time, ms): stages count from here. */
    anchorAt: integer("anchor_at").notNull(),
    status: text("status", { enum: DUNNING_CASE_STATUSES }).notNull().default("open"),
    /** The last stage that happened (dunning_soft … suspended); null before the first. */
    stage: text("stage"),
    /** When the next stage is due; null once the case is closed or has no stage left. */
    nextActionAt: integer("next_action_at"),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    /** The decline of the first failure (recovery by decline code counts from it). */
    declineCode: text("decline_code"),
    /** The decline of the latest failure: a hard one here stops the worker's retries. */
    lastDeclineCode: text("last_decline_code"),
    /** The worker's retries made so far (policy `retries.by = worker`). */
    retries: integer("retries").notNull().default(0),
    /** When the worker's next retry is due; null when it will not retry (hard decline, Stripe retries, none left). */
    nextRetryAt: integer("next_retry_at"),
    /** Stripe's own next attempt (the invoice's `next_payment_attempt`, ms), as last synced. */
    stripeNextAttemptAt: integer("stripe_next_attempt_at"),
    openedAt: integer("opened_at").notNull(),
    closedAt: integer("closed_at"),
  },
  (t) => [
    uniqueIndex("dunning_cases_invoice_uq").on(t.invoiceId),
    index("dunning_cases_due_idx").on(t.status, t.nextActionAt),
    index("dunning_cases_clock_due_idx").on(t.status, t.testClock, t.nextActionAt),
    index("dunning_cases_subscription_idx").on(t.subscriptionId, t.status),
    index("dunning_cases_customer_idx").on(t.customerId, t.subscriptionId),
  ],
);

/** That a stage of a case happened, exactly once (`skipped`: passed over by a clock jump). */
export const dunningSteps = sqliteTable(
  "dunning_steps",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    caseId: text("case_id").notNull(),
    step: text("step").notNull(),
    /**
     * `done` (its email enqueued, its effect applied), `skipped` (passed over by a clock jump),
     * or for a retry (`retry_<n>`): `paid` or `declined`.
     */
    outcome: text("outcome", { enum: ["done", "skipped", "paid", "declined"] }).notNull(),
    /** The case's time (test clock or wall) when it happened. */
    at: integer("at").notNull(),
    emailKey: text("email_key"),
  },
  (t) => [uniqueIndex("dunning_steps_case_step_uq").on(t.caseId, t.step)],
);

/**
 * Marketing spend per month (`PUT /v1/analytics/spend/{month}`, admin), for CAC: one row per
 * month and currency, replaced by a later PUT of the same month.
 */
export const marketingSpend = sqliteTable(
  "marketing_spend",
  {
    /** `YYYY-MM` (UTC calendar month). */
    month: text("month").notNull(),
    currency: text("currency").notNull(),
    /** Integer minor units. */
    amount: integer("amount").notNull(),
    note: text("note"),
    updatedAt: integer("updated_at").notNull(),
    updatedBy: text("updated_by").notNull(),
  },
  (t) => [uniqueIndex("marketing_spend_month_uq").on(t.month, t.currency)],
);

/**
 * Dashboard sign-ins (auth/session.ts): an analyst or admin key traded for a session cookie.
 * Only the SHA-256 of the cookie's token is kept, so a copy of this table opens nothing. The
 * session acts as its key: revoking or expiring the key ends it at the next request.
 */
export const dashboardSessions = sqliteTable(
  "dashboard_sessions",
  {
    /** `ses_...`: names the session in the audit log (the token never appears anywhere). */
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id),
    createdAt: integer("created_at").notNull(),
    /** Enforced by the worker on every request, whatever the browser does with Max-Age. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [uniqueIndex("dashboard_sessions_token_hash_uq").on(t.tokenHash), index("dashboard_sessions_expires_at_idx").on(t.expiresAt)],
);

/**
 * The last run of each cron (monitoring/crons.ts), written by runCron at its start and end with
 * upserts that only move forward, so overlapping runs leave the newest start and the newest end.
 * `/health` and the alerts read it to tell a cron that stopped running.
 */
export const cronRuns = sqliteTable("cron_runs", {
  /** The job's name in CRONS (`sweep`, `dunning`, `reconcile`), or an internal marker (`audit_verify`). */
  cron: text("cron").primaryKey(),
  lastStartedAt: integer("last_started_at"),
  lastFinishedAt: integer("last_finished_at"),
  /** Whether the run that finished last succeeded; null before any run finished. */
  lastOk: integer("last_ok", { mode: "boolean" }),
  /** `describeError` of that run's failure (never shown on the public /health). */
  lastError: text("last_error"),
});

/**
 * The alert webhook's outbox (monitoring/alerts.ts). The key names the condition, its subject,
 * the window and the level reached, so two isolates or repeated crons that see the same condition
 * store one row (INSERT ... ON CONFLICT DO NOTHING), and a failing endpoint is retried from here.
 */
export const ALERT_STATUSES = ["pending", "sending", "sent", "failed"] as const;
export const monitoringAlerts = sqliteTable(
  "monitoring_alerts",
  {
    key: text("key").primaryKey(),
    condition: text("condition").notNull(),
    /** What the condition is about (a cron's name), or `-`. */
    subject: text("subject").notNull(),
    windowStart: integer("window_start").notNull(),
    /** How far the condition had gone (parked events: their count); a higher level alerts again within the window. */
    level: integer("level").notNull(),
    /** The JSON body sent, fixed when the alert is stored so every retry sends the same bytes. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ALERT_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    leaseUntil: integer("lease_until"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    sentAt: integer("sent_at"),
  },
  (t) => [index("monitoring_alerts_due_idx").on(t.status, t.nextAttemptAt), index("monitoring_alerts_window_idx").on(t.condition, t.subject, t.windowStart, t.level)],
);

/**
 * Backups and restores of this database, written by scripts/backup.ts and scripts/restore.ts
 * with `wrangler d1 execute` once the export or import has finished (so a row means the file is
 * complete). The compliance report's backup control reads the newest `backup`. A restore brings
 * back the table as the dump had it, so the restore script records the restored backup again.
 */
export const BACKUP_KINDS = ["backup", "restore"] as const;
export const backups = sqliteTable(
  "backups",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: BACKUP_KINDS }).notNull(),
    /** When the export finished (backup) or the import finished (restore), epoch ms. */
    at: integer("at").notNull(),
    /** The dump's file name under backups/ (no directory: where it is kept is the operator's). */
    file: text("file").notNull(),
    target: text("target", { enum: ["local", "remote"] }).notNull(),
    bytes: integer("bytes").notNull(),
    /** SHA-256 of the dump, so a file can be matched to its record before it is restored. */
    sha256: text("sha256").notNull(),
  },
  (t) => [index("backups_kind_at_idx").on(t.kind, t.at)],
);

/**
 * Requests sent with an `Idempotency-Key` header (idempotency/), so a client that retries a write
 * after a timeout gets the first answer again instead of acting twice (a retried cancel would
 * otherwise count as declining the retention offer). A row is claimed before the handler runs
 * (the primary key makes two racing requests one), holds what the request was (method, path and
 * a hash of its body) and, once it acted, the response to replay. Kept for a day, like Stripe's.
 */
export const IDEMPOTENCY_STATES = ["started", "done"] as const;
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    /** The API key that sent it: one caller's keys never meet another's. */
    apiKeyId: text("api_key_id").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    /** SHA-256 (hex) of the method, path and body bytes: a key reused for another request is refused. */
    requestHash: text("request_hash").notNull(),
    state: text("state", { enum: IDEMPOTENCY_STATES }).notNull(),
    /** Which request holds a started claim, so only it completes or releases the claim. */
    claimToken: text("claim_token").notNull(),
    createdAt: integer("created_at").notNull(),
    /** When the claim was last taken: a started claim left this long by a request that died can be taken over. */
    claimedAt: integer("claimed_at").notNull(),
    responseStatus: integer("response_status"),
    responseContentType: text("response_content_type"),
    /** The other headers a retry must see again (cache-control, location, retry-after), as a JSON object. */
    responseHeaders: text("response_headers"),
    responseBody: text("response_body"),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);

/**
 * Outbound webhooks (worker/src/outbound, docs/api.md "Outbound webhooks"): the endpoints an admin
 * registers. The signing secret is kept encrypted (AES-GCM under WEBHOOK_SECRETS_KEY, a Worker
 * secret): the worker must sign with it, so a hash would not do, and a copy of the database alone
 * signs nothing. After a rotation the previous secret signs too until `previous_secret_expires_at`.
 * `failing_since` is the first failed attempt since the last success: three days of it disables
 * the endpoint (`disabled_reason` says why).
 */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  /** JSON array of event types, or ["*"]. */
  events: text("events").notNull(),
  description: text("description"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  secret: text("secret").notNull(),
  previousSecret: text("previous_secret"),
  previousSecretExpiresAt: integer("previous_secret_expires_at"),
  failingSince: integer("failing_since"),
  disabledReason: text("disabled_reason"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * The outbox: one row per event, written in the same D1 batch as the change it reports
 * (worker/src/outbox), so a change is never reported without happening nor happens unreported.
 * `id` is the `webhook-id` of every delivery of it, retries and replays included; `body` is the
 * exact JSON each delivery signs. `seq` orders a user's events.
 */
export const outboundEvents = sqliteTable(
  "outbound_events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    type: text("type").notNull(),
    userId: text("user_id").notNull(),
    /** When the change happened (ms): the body's `timestamp`. */
    occurredAt: integer("occurred_at").notNull(),
    body: text("body").notNull(),
  },
  (t) => [uniqueIndex("outbound_events_id_uq").on(t.id), index("outbound_events_occurred_idx").on(t.occurredAt)],
);

/**
 * One event for one endpoint, made in the event's own batch for each enabled endpoint subscribed
 * to its type. A sender claims it by a conditional UPDATE (status, attempts, lease), so two
 * isolates never send the same one in one attempt round; a user's deliveries to an endpoint go in
 * `event_seq` order. `round_started_at` starts the three-day retry window (creation, retry, replay).
 */
export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivering", "delivered", "parked"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    userId: text("user_id").notNull(),
    status: text("status", { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default("pending"),
    /** Attempts in this round (the backoff's step); the attempts table keeps every one. */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    leaseUntil: integer("lease_until"),
    roundStartedAt: integer("round_started_at").notNull(),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_uq").on(t.endpointId, t.eventId),
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_order_idx").on(t.endpointId, t.userId, t.status, t.eventSeq),
  ],
);

/** Every attempt of a delivery: HTTP status (null: no answer), duration, the answer's first 500 characters. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    deliveryId: text("delivery_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    attemptedAt: integer("attempted_at").notNull(),
    status: integer("status"),
    durationMs: integer("duration_ms").notNull(),
    responseExcerpt: text("response_excerpt"),
    error: text("error"),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.deliveryId, t.attemptedAt)],
);
