/**
 * The one place the worker's dependencies (services.ts) are built: once per request, cron run or
 * queue batch, then passed down. Stripe, the signer and the checkpoint key are built on first use:
 * a route that needs neither still works when their settings are missing, and one that needs them
 * answers `config_invalid`. The mirror's followers are named here (dunning cases), so stripe-sync/
 * imports none of the domains that follow it.
 */
import { z } from "zod";
import { auditWriter, checkpointKey as makeCheckpointKey, type CheckpointKey } from "./audit";
import type { Clock } from "./clock";
import { getDb } from "./db/client";
import { fraudWarningEventAction } from "./fraud";
import { refundEventAction } from "./refunds";
import { disputeEventAction } from "./disputes";
import { dunningCasesOfSync, dunningPolicy as defaultDunningPolicy, withOverrides, type DunningPolicy } from "./dunning";
import { emailTransport as makeEmailTransport, type EmailTransport } from "./email";
import { loadSigningKeys } from "./entitlements";
import { auditConfig, coreConfig, dunningConfig, emailConfig, ingestConfig, monitoringConfig, outboundConfig, returnUrlConfig, signingConfig, stripeConfig, webhookConfig, type Env } from "./env";
import { DomainError } from "./errors";
import { describeError, jsonLogger, type Logger } from "./log";
import type { Services, Signer } from "./services";
import { outboundEventsOfSync } from "./outbound";
import { stripeClient, type Stripe } from "./stripe-sync";

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
  const defer = (work: Promise<unknown>) => {
    const guarded = work.catch((e: unknown) => log.log("error", "deferred work failed", { error: describeError(e) }));
    options.waitUntil?.(guarded);
  };
  return {
    clock,
    db,
    log,
    audit: auditWriter(db, clock),
    syncFollowers: [dunningCasesOfSync, outboundEventsOfSync],
    eventActions: [refundEventAction, disputeEventAction, fraudWarningEventAction],
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
    get ingest() {
      return ingestConfig(env);
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
    get outbound() {
      return outboundConfig(env);
    },
    announceOutbound() {
      // A nudge per commit: the consumer delivers everything due, and a batch of nudges is one run.
      if (env.OUTBOUND) defer(env.OUTBOUND.send({ kind: "deliver" }));
    },
    defer,
  };
}
