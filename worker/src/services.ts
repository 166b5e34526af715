/**
 * The one place the worker's dependencies are built: once per request, cron run or queue batch,
 * then passed down. Domain code takes what it needs of this (`Pick<Services, "db" | "clock">`)
 * and builds nothing itself, so a test can hand it a fixed clock or another D1 handle.
 * Stripe, the signer and the checkpoint key are built on first use: a route that needs neither still works when
 * their settings are missing, and one that needs them answers `config_invalid`.
 */
import { auditWriter, type AuditWriter } from "./audit/append";
import { checkpointKey as makeCheckpointKey, type CheckpointKey } from "./audit/checkpoint-key";
import type { ReturnUrlPolicy } from "./subscriptions/return-url";
import { stripeClient, type Stripe } from "./stripe-sync/stripe";
import type { SyncFollower } from "./stripe-sync/sync";
import type { Clock } from "./clock";
import { getDb, type Db } from "./db/client";
import type { ClaimsConfig } from "./entitlements/config";
import { loadSigningKeys, type LoadedKeys } from "./entitlements/keys";
import { emailTransport as makeEmailTransport, type EmailTransport } from "./email/transports";
import { dunningPolicy as defaultDunningPolicy, withOverrides, type DunningPolicy } from "./dunning/policy";
import { dunningCasesOfSync } from "./dunning/sync-follower";
import {
  auditConfig,
  coreConfig,
  dunningConfig,
  emailConfig,
  monitoringConfig,
  returnUrlConfig,
  signingConfig,
  stripeConfig,
  webhookConfig,
  type Env,
  type MonitoringConfig,
  type WebhookConfig,
} from "./env";
import { DomainError } from "./errors";
import { describeError, jsonLogger, type Logger } from "./log";
import { z } from "zod";

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
  /** Signs and checks the audit chain's checkpoints; null when AUDIT_CHECKPOINT_SECRET is unset. */
  readonly checkpointKey: CheckpointKey | null;
  /** Where the email outbox sends (EMAIL_TRANSPORT); config_invalid when its settings are incomplete. */
  readonly emailTransport: EmailTransport;
  /** The dunning policy: dunning/policy.ts with this deployment's DUNNING_* overrides. */
  readonly dunning: DunningPolicy;
  /**
   * What a sync of the mirror writes for the domains that follow it, in its own batch: the
   * dunning cases. Named here so stripe-sync/ imports none of them (dunning imports the mirror).
   */
  readonly syncFollowers: readonly SyncFollower[];
  /** The alert webhook's URL and secret (ALERT_WEBHOOK_*); config_invalid when the URL has no secret. */
  readonly alerting: MonitoringConfig;
  /** Keeps work running after the response (waitUntil); its failure is logged, never thrown. */
  defer(work: Promise<unknown>): void;
}

export interface ServiceOptions {
  log?: Logger;
  /** The runtime's waitUntil; without one, deferred work just runs on. */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Another D1 handle than env.DB (tests racing two writers). */
  d1?: D1Database;
}

export function services(env: Env, clock: Clock, options: ServiceOptions = {}): Services {
  const db = getDb(options.d1 ?? env.DB);
  const log = options.log ?? jsonLogger();
  let stripe: Stripe | undefined;
  let signer: Signer | undefined;
  let checkpointKey: CheckpointKey | null | undefined;
  let email: EmailTransport | undefined;
  let dunning: DunningPolicy | undefined;
  return {
    clock,
    db,
    log,
    audit: auditWriter(db, clock),
    syncFollowers: [dunningCasesOfSync],
    get stripe() {
      return (stripe ??= stripeClient(stripeConfig(env)));
    },
    get stripeMode() {
      return /^(sk|rk)_live_/.test(stripeConfig(env).STRIPE_SECRET_KEY) ? "live" : "test";
    },
    get appBaseUrl() {
      return coreConfig(env).APP_BASE_URL.replace(/\/+$/, "");
    },
    get returnUrls() {
      const c = returnUrlConfig(env);
      return { origins: [...new Set([new URL(c.APP_BASE_URL).origin, ...(c.APP_ORIGINS ?? [])])], localhost: c.ENVIRONMENT !== "production" };
    },
    get signer() {
      if (!signer) {
        const signing = signingConfig(env);
        signer = {
          keys: () => loadSigningKeys(signing.ENTITLEMENTS_SIGNING_KEYS),
          config: { issuer: signing.ENTITLEMENTS_ISSUER, audience: signing.ENTITLEMENTS_AUDIENCE, ttlSeconds: signing.ENTITLEMENTS_TOKEN_TTL_SECONDS, appBaseUrl: coreConfig(env).APP_BASE_URL },
        };
      }
      return signer;
    },
    get webhooks() {
      return webhookConfig(env);
    },
    get checkpointKey() {
      if (checkpointKey === undefined) {
        const secrets = auditConfig(env).AUDIT_CHECKPOINT_SECRET;
        checkpointKey = secrets ? makeCheckpointKey(secrets) : null;
      }
      return checkpointKey;
    },
    get emailTransport() {
      return (email ??= makeEmailTransport(emailConfig(env), { log, clock }));
    },
    get dunning() {
      if (!dunning) {
        const c = dunningConfig(env);
        try {
          dunning = withOverrides(defaultDunningPolicy, {
            retriesBy: c.DUNNING_RETRIES,
            paydayAnchor: c.DUNNING_PAYDAY_ANCHOR,
            cancelAfterSuspensionDays: c.DUNNING_CANCEL_AFTER_SUSPENSION_DAYS === "off" ? null : c.DUNNING_CANCEL_AFTER_SUSPENSION_DAYS,
          });
        } catch (error) {
          // e.g. a payday anchor that is not a Friday: named like any other bad setting.
          const detail = error instanceof z.ZodError ? error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : String(error);
          throw new DomainError("config_invalid", `The dunning configuration is invalid (DUNNING_* variables): ${detail}.`);
        }
      }
      return dunning;
    },
    get alerting() {
      return monitoringConfig(env);
    },
    defer(work) {
      const guarded = work.catch((e: unknown) => log.log("error", "deferred work failed", { error: describeError(e) }));
      options.waitUntil?.(guarded);
    },
  };
}
