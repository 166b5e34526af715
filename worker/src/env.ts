/**
 * The worker's environment: bindings, vars and secrets, checked with zod; the `Env` type is
 * derived from the same schemas, so a new setting is declared once. A missing or malformed value
 * becomes a `config_invalid` error that names the variable, instead of a crash deep inside a
 * handler. Checks are per concern (core, stripe, signing, ...) so a worker without, say, a
 * signing key still serves /health and says exactly what is missing.
 */
import { z } from "zod";
import { DomainError } from "./errors";

/**
 * What the webhook route puts on the `stripe-events` queue: the verified event, as received
 * (stripe-sync/receive.ts sends it, stripe-sync/ingest.ts consumes it). Declared with the queue's
 * binding, so the environment names no folder.
 */
export interface EventMessage {
  id: string;
  type: string;
  /** Stripe's `created` (seconds). */
  created: number;
  /** The exact request body the signature covered. */
  payload: string;
  /** When the webhook reached us (ms). */
  received_at: number;
}

const nonEmpty = z.string().trim().min(1);
const binding = <T>(what: string, has: string) => z.custom<T>((v) => typeof v === "object" && v !== null && has in v, `${what} is missing`);

const CoreConfig = z.object({
  DB: binding<D1Database>("D1 binding DB", "prepare"),
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  APP_BASE_URL: z.url().default("http://localhost:8787"),
});
export type CoreConfig = z.infer<typeof CoreConfig>;

const origin = z.url({ protocol: /^https?$/, error: "each origin must be an http(s) URL" }).transform((u) => new URL(u).origin);
/** Where Checkout and the billing portal may send users back to (subscriptions/return-url.ts). */
const ReturnUrlConfig = z.object({
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  APP_BASE_URL: z.url().default("http://localhost:8787"),
  /** The app's other origins, comma-separated (`https://www.example.com,https://m.example.com`), besides APP_BASE_URL's. */
  APP_ORIGINS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(origin))
    .optional(),
});
export type ReturnUrlConfig = z.infer<typeof ReturnUrlConfig>;

const StripeConfig = z.object({
  STRIPE_SECRET_KEY: nonEmpty.regex(/^(sk|rk)_(test|live)_/, "must start with sk_test_, sk_live_, rk_test_ or rk_live_"),
  /** `http://127.0.0.1:12111` points the Stripe client at the emulator; unset means Stripe. */
  STRIPE_API_BASE: z.url().optional(),
  STRIPE_API_VERSION: nonEmpty.optional(),
});
export type StripeConfig = z.infer<typeof StripeConfig>;

const WebhookConfig = z.object({
  /** Queue `stripe-events`: verified webhooks on their way into the event inbox (stripe-sync/ingest.ts). */
  EVENTS: binding<Queue<EventMessage>>("Queue binding EVENTS", "send"),
  /** Comma-separated `whsec_...` secrets; several are accepted while one is rotated. */
  STRIPE_WEBHOOK_SECRETS: nonEmpty
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().startsWith("whsec_", "each secret must start with whsec_")).min(1)),
});
export type WebhookConfig = z.infer<typeof WebhookConfig>;

/**
 * The `stripe-events` consumer (stripe-sync/ingest.ts): how many of a batch's new events one run
 * processes; the rest wait for the minute sweep. Each costs several Stripe fetches and D1 queries,
 * against a run's subrequest budget on Cloudflare, so the default is 25; `npm start` raises it
 * locally (no such budget), with its batches, so a burst is processed as it arrives.
 */
const IngestConfig = z.object({
  EVENTS_PROCESS_PER_RUN: z.coerce.number().int().min(1).max(100).default(25),
});
export type IngestConfig = z.infer<typeof IngestConfig>;

const SigningConfig = z.object({
  /** JSON JWK set of Ed25519 private keys, each with a `status` of next, current or retired. */
  ENTITLEMENTS_SIGNING_KEYS: nonEmpty,
  ENTITLEMENTS_ISSUER: z.url().default("https://billing.federaljobadvisor.com"),
  ENTITLEMENTS_AUDIENCE: nonEmpty.default("federal-job-advisor"),
  ENTITLEMENTS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(600),
});
export type SigningConfig = z.infer<typeof SigningConfig>;

const checkpointSecret = z.string().min(32, "each secret must be at least 32 characters (openssl rand -hex 32)");
const AuditConfig = z.object({
  /**
   * HMAC-SHA256 secret(s) of the audit chain's signed checkpoints (audit/checkpoint-key.ts),
   * comma-separated: the first signs, any of them verifies, so list the old one second while
   * rotating. Its own secret: whoever can write D1 can recompute the SHA-256 chain, and only a
   * key they do not hold makes a rewrite show. Unset means no checkpoints (verify says so).
   */
  AUDIT_CHECKPOINT_SECRET: nonEmpty
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.tuple([checkpointSecret], checkpointSecret))
    .optional(),
});
export type AuditConfig = z.infer<typeof AuditConfig>;

/** The email outbox's transport (email/transports.ts); `log` (the default) sends nothing anywhere. */
export const EMAIL_TRANSPORTS = ["log", "resend", "cloudflare", "smtp"] as const;
const EmailConfig = z
  .object({
    EMAIL_TRANSPORT: z.enum(EMAIL_TRANSPORTS).default("log"),
    /** `Name <address>` or a bare address; the address must be allowed by the provider. */
    EMAIL_FROM: nonEmpty.regex(/^[^\r\n<>]*<[^\s<>@]+@[^\s<>@]+>$|^[^\s<>@]+@[^\s<>@]+$/, "must be `Name <address>` or an address").default("Federal Job Advisor <billing@federaljobadvisor.com>"),
    /** Resend: the API key (secret) and its base URL (overridable for tests). */
    RESEND_API_KEY: nonEmpty.optional(),
    RESEND_API_BASE: z.url().default("https://api.resend.com"),
    /** Cloudflare Email: the `send_email` binding (`[[send_email]] name = "EMAIL"` in wrangler.toml). */
    EMAIL: binding<SendEmail>("send_email binding EMAIL", "send").optional(),
    /** SMTP over Workers TCP sockets: port 465 is implicit TLS, any other port uses STARTTLS. */
    SMTP_HOST: nonEmpty.optional(),
    SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(587),
    SMTP_USER: nonEmpty.optional(),
    SMTP_PASSWORD: nonEmpty.optional(),
  })
  .superRefine((c, ctx) => {
    const need = (name: keyof typeof c, why: string) => c[name] === undefined && ctx.addIssue({ code: "custom", path: [name], message: `is required when EMAIL_TRANSPORT is ${why}` });
    if (c.EMAIL_TRANSPORT === "resend") need("RESEND_API_KEY", "resend");
    if (c.EMAIL_TRANSPORT === "cloudflare") need("EMAIL", "cloudflare");
    if (c.EMAIL_TRANSPORT === "smtp") for (const k of ["SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD"] as const) need(k, "smtp");
  });
export type EmailConfig = z.infer<typeof EmailConfig>;

/** Deployment overrides of the dunning policy (dunning/policy.ts holds the defaults). */
const DunningConfig = z.object({
  /** `worker` (the default) retries with invoices.pay; `stripe` leaves retries to Stripe's settings. */
  DUNNING_RETRIES: z.enum(["worker", "stripe"]).optional(),
  /** A federal payday (a Friday, YYYY-MM-DD) to align insufficient-funds retries with, or `off`. */
  DUNNING_PAYDAY_ANCHOR: z.union([z.literal("off"), z.iso.date()]).optional(),
  /** Cancel the Stripe subscription this many days after a suspension (unset: the policy's 6), or `off` to keep it past_due. */
  DUNNING_CANCEL_AFTER_SUSPENSION_DAYS: z.union([z.literal("off"), z.coerce.number().int().min(0).max(365)]).optional(),
});
export type DunningConfig = z.infer<typeof DunningConfig>;

/**
 * The alert webhook (monitoring/alerts.ts): where the minute cron posts alerts, and the secret
 * they are signed with (HMAC-SHA256, `X-Alert-Signature`). Unset URL: alerts are only logged.
 */
const MonitoringConfig = z
  .object({
    ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
    ALERT_WEBHOOK_URL: z.url().optional(),
    ALERT_WEBHOOK_SECRET: z.string().min(32, "must be at least 32 characters (openssl rand -hex 32)").optional(),
  })
  .superRefine((c, ctx) => {
    if (c.ALERT_WEBHOOK_URL === undefined) return;
    if (c.ALERT_WEBHOOK_SECRET === undefined) ctx.addIssue({ code: "custom", path: ["ALERT_WEBHOOK_SECRET"], message: "is required when ALERT_WEBHOOK_URL is set: the receiver checks the signature" });
    if (c.ENVIRONMENT === "production" && !c.ALERT_WEBHOOK_URL.startsWith("https://")) ctx.addIssue({ code: "custom", path: ["ALERT_WEBHOOK_URL"], message: "must be https:// in production" });
  });
export type MonitoringConfig = z.infer<typeof MonitoringConfig>;

/**
 * Outbound webhooks (worker/src/outbound): WEBHOOK_SECRETS_KEY encrypts the endpoints' signing
 * secrets at rest (AES-GCM; the worker must sign with them, so a hash would not do);
 * WEBHOOK_ADMIN_EMAIL is told when an endpoint is disabled; WEBHOOK_RETRY_DELAYS (seconds,
 * comma-separated) replaces the retry schedule's delays, for tests and local runs only.
 */
const OutboundConfig = z.object({
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  WEBHOOK_SECRETS_KEY: z.string().min(32, "must be at least 32 characters (openssl rand -hex 32)"),
  WEBHOOK_ADMIN_EMAIL: z.email().optional(),
  WEBHOOK_RETRY_DELAYS: z
    .string()
    .regex(/^\d+(,\d+)*$/, "must be whole seconds, comma-separated")
    .transform((v) => v.split(",").map((n) => Number(n) * 1000))
    .optional(),
});
export type OutboundConfig = z.infer<typeof OutboundConfig>;

/** What the commits that write outbound events put on the `outbound-webhooks` queue: a nudge to deliver what is due. */
export interface OutboundMessage {
  kind: "deliver";
}

const Limits = z.object({
  RATE_LIMIT_KEY: binding<RateLimit>("Rate limiting binding RATE_LIMIT_KEY", "limit").optional(),
  RATE_LIMIT_IP: binding<RateLimit>("Rate limiting binding RATE_LIMIT_IP", "limit").optional(),
});

/** wrangler.toml's [assets] binding: the worker serves /dashboard/static/* through it (http/static-assets.ts). */
const Assets = z.object({ ASSETS: binding<{ fetch(request: Request): Promise<Response> }>("Static assets binding ASSETS", "fetch").optional() });

type Input<T extends z.ZodType> = z.input<T>;
type Raw = Input<typeof CoreConfig> &
  Input<typeof ReturnUrlConfig> &
  Input<typeof StripeConfig> &
  Input<typeof WebhookConfig> &
  Input<typeof IngestConfig> &
  Input<typeof SigningConfig> &
  Input<typeof AuditConfig> &
  Input<typeof EmailConfig> &
  Input<typeof DunningConfig> &
  Input<typeof MonitoringConfig> &
  Input<typeof OutboundConfig> &
  Input<typeof Limits> &
  Input<typeof Assets>;

/**
 * What workerd hands the worker. Every var and secret may be absent (the concern that needs it
 * answers `config_invalid`); the D1 and queue bindings are always declared in wrangler.toml.
 */
export type Env = { [K in keyof Raw]?: Raw[K] } & { DB: D1Database; EVENTS: Queue<EventMessage>; OUTBOUND?: Queue<OutboundMessage> };

function check<T extends z.ZodType>(schema: T, env: Env, what: string): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ field: i.path.join(".") || "env", message: i.message, code: i.code }));
  throw new DomainError(
    "config_invalid",
    `The ${what} configuration is incomplete: ${errors.map((e) => `${e.field} (${e.message})`).join("; ")}. Set it in wrangler.toml [vars], .dev.vars or with \`wrangler secret put\`.`,
    { errors },
  );
}

// Parsing once per env object keeps the check off the hot path; workerd reuses the env.
const cache = new WeakMap<object, Map<string, unknown>>();
function memo<T>(env: Env, key: string, parse: () => T): T {
  let m = cache.get(env);
  if (!m) cache.set(env, (m = new Map()));
  if (m.has(key)) return m.get(key) as T;
  const value = parse();
  m.set(key, value);
  return value;
}

export const coreConfig = (env: Env): CoreConfig => memo(env, "core", () => check(CoreConfig, env, "core"));
export const returnUrlConfig = (env: Env): ReturnUrlConfig => memo(env, "return-url", () => check(ReturnUrlConfig, env, "return URL"));
export const stripeConfig = (env: Env): StripeConfig => memo(env, "stripe", () => check(StripeConfig, env, "Stripe"));
export const webhookConfig = (env: Env): WebhookConfig => memo(env, "webhook", () => check(WebhookConfig, env, "webhook"));
export const ingestConfig = (env: Env): IngestConfig => memo(env, "ingest", () => check(IngestConfig, env, "event ingestion"));
export const signingConfig = (env: Env): SigningConfig => memo(env, "signing", () => check(SigningConfig, env, "entitlement signing"));
export const auditConfig = (env: Env): AuditConfig => memo(env, "audit", () => check(AuditConfig, env, "audit checkpoint"));
export const emailConfig = (env: Env): EmailConfig => memo(env, "email", () => check(EmailConfig, env, "email"));
export const dunningConfig = (env: Env): DunningConfig => memo(env, "dunning", () => check(DunningConfig, env, "dunning"));
export const monitoringConfig = (env: Env): MonitoringConfig => memo(env, "monitoring", () => check(MonitoringConfig, env, "alert webhook"));
export const outboundConfig = (env: Env): OutboundConfig => memo(env, "outbound", () => check(OutboundConfig, env, "outbound webhook"));

/**
 * Every concern's schema by name, for the deployment checks (monitoring/deployment.ts): they read
 * which variables each concern takes and which it requires, and report each one's state, never
 * its value. Declared here, so a setting added to a concern is checked without another list.
 */
export const CONFIG_CONCERNS = {
  core: CoreConfig,
  return_urls: ReturnUrlConfig,
  stripe: StripeConfig,
  webhook: WebhookConfig,
  ingest: IngestConfig,
  signing: SigningConfig,
  audit: AuditConfig,
  email: EmailConfig,
  dunning: DunningConfig,
  monitoring: MonitoringConfig,
  limits: Limits,
  assets: Assets,
  outbound: OutboundConfig,
} as const;
export type ConfigConcern = keyof typeof CONFIG_CONCERNS;
