/**
 * What domain code is given: the worker's dependencies, built once per request, cron run or queue
 * batch by the factory in wiring.ts, then passed down. Domain code takes what it needs of this
 * (`Pick<Services, "db" | "clock">`) and builds nothing itself, so a test can hand it a fixed
 * clock or another D1 handle. Types only, each from the file that defines it (not a folder's
 * index.ts): every folder imports this file, and a type check of it loads only those files.
 */
import type { BatchItem } from "drizzle-orm/batch";
import type { AuditWriter } from "./audit/append";
import type { AuditEntry } from "./audit/chain";
import type { CheckpointKey } from "./audit/checkpoint-key";
import type { Clock } from "./clock";
import type { Db } from "./db/client";
import type { DunningPolicy } from "./dunning/policy";
import type { EmailTransport } from "./email/transports";
import type { ClaimsConfig } from "./entitlements/config";
import type { LoadedKeys } from "./entitlements/keys";
import type { IngestConfig, MonitoringConfig, OutboundConfig, WebhookConfig } from "./env";
import type { Logger } from "./log";
import type { SyncedBatch } from "./stripe-sync/batch";
import type { Stripe } from "./stripe-sync/stripe";
import type { ReturnUrlPolicy } from "./subscriptions/return-url";

export interface Signer {
  keys(): Promise<LoadedKeys>;
  readonly config: ClaimsConfig;
}

export interface Services {
  readonly clock: Clock;
  readonly db: Db;
  readonly log: Logger;
  readonly audit: AuditWriter;
  readonly stripe: Stripe;
  /** Whether STRIPE_SECRET_KEY is a test or a live key (`sk_live_`/`rk_live_`); config_invalid when it is unset. */
  readonly stripeMode: "test" | "live";
  /** The main app's base URL (APP_BASE_URL), for the billing pages Checkout and the portal return to. */
  readonly appBaseUrl: string;
  /** The origins Checkout and the portal may send users back to; config_invalid when APP_ORIGINS is malformed. */
  readonly returnUrls: ReturnUrlPolicy;
  readonly signer: Signer;
  readonly webhooks: WebhookConfig;
  /** The event consumer's per-run processing (EVENTS_PROCESS_PER_RUN); config_invalid when malformed. */
  readonly ingest: IngestConfig;
  /** Signs and checks the audit chain's checkpoints; null when AUDIT_CHECKPOINT_SECRET is unset. */
  readonly checkpointKey: CheckpointKey | null;
  /** Where the email outbox sends (EMAIL_TRANSPORT); config_invalid when its settings are incomplete. */
  readonly emailTransport: EmailTransport;
  /** The dunning policy: dunning/policy.ts with this deployment's DUNNING_* overrides. */
  readonly dunning: DunningPolicy;
  /**
   * What a sync of the mirror writes for the domains that follow it, in its own batch: the
   * dunning cases. wiring.ts names them, so stripe-sync/ imports none of them (dunning imports the mirror).
   */
  readonly syncFollowers: readonly SyncFollower[];
  /**
   * What a Stripe event makes a domain do in Stripe before the mirror is written (a refund that
   * ends access cancels the subscription): wiring.ts names them, as it names the sync followers.
   */
  readonly eventActions: readonly EventAction[];
  /** The alert webhook's URL and secret (ALERT_WEBHOOK_*); config_invalid when the URL has no secret. */
  readonly alerting: MonitoringConfig;
  /** The outbound webhooks' settings (WEBHOOK_*); config_invalid when WEBHOOK_SECRETS_KEY is unset. */
  readonly outbound: OutboundConfig;
  /**
   * Nudges the outbound webhooks' queue after a commit that wrote events, so they go out now
   * rather than at the minute sweep; never throws (the sweep is the safety net).
   */
  announceOutbound(): void;
  /** Keeps work running after the response (waitUntil); its failure is logged, never thrown. */
  defer(work: Promise<unknown>): void;
}

/** What an event action did: subscriptions it changed in Stripe (mirrored in the event's batch) and the audit entries saying why. */
export interface EventActionResult {
  subscriptions: string[];
  entries: AuditEntry[];
  /** Charges it refunded: their refunds and credit notes are mirrored in the event's batch too. */
  charges?: string[];
  /** Its own rows (a fraud warning's mirror row and `actioned_at`), written in the event's batch with its processed mark. */
  statements?: BatchItem<"sqlite">[];
}

export type EventAction = (deps: Pick<Services, "db" | "stripe" | "clock" | "log">, event: Stripe.Event) => Promise<EventActionResult>;

/**
 * A domain that derives rows of its own from a sync of the mirror (dunning cases), written in the
 * sync's batch so the failure and what follows from it land together or not at all. The factory in
 * wiring.ts names the followers, so stripe-sync/ imports none of the domains that follow it.
 */
export type SyncFollower = (deps: Pick<Services, "db" | "clock" | "appBaseUrl" | "dunning">, batch: SyncedBatch) => Promise<BatchItem<"sqlite">[]>;
