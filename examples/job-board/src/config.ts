/**
 * The demo app's configuration: a config object (createApp, startJobBoard) or the environment
 * (configFromEnv, used by src/server.ts). The service key stays on the server: it is sent only to
 * the billing worker, never rendered, never logged.
 */

export interface JobBoardConfig {
  /** The billing worker's URL, e.g. `http://127.0.0.1:8787`. */
  billingUrl: string;
  /** A `service` API key of the worker (`npm run apikey -- create --role service`). Server-side only. */
  serviceKey: string;
  /** Expected `iss` of entitlement tokens: the worker's ENTITLEMENTS_ISSUER. */
  issuer: string;
  /** Expected `aud` of entitlement tokens: the worker's ENTITLEMENTS_AUDIENCE. */
  audience: string;
  /**
   * This app's public origin, e.g. `http://127.0.0.1:3000`: where Checkout and the billing portal
   * send the user back, and the only origin accepted on form posts. Default `http://<host>:<port>`.
   */
  origin?: string;
  /** Port to listen on (startJobBoard). Default 3000; 0 picks a free one. */
  port?: number;
  /** Interface to listen on (startJobBoard). Default `127.0.0.1`. */
  host?: string;
  /** HMAC key of the session cookie. Default: random per process (sessions end at restart). */
  sessionSecret?: string;
  /** fetch used for the worker (the SDK and the billing calls). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * How often the SDK polls the worker's entitlement changes feed, in ms (default 15,000): a
   * cancellation or an upgrade changes this app's decisions within about that long.
   */
  changesPollIntervalMs?: number;
  /**
   * The `whsec_…` secret of this app's webhook endpoint on the worker: `POST /webhooks/billing`
   * verifies deliveries with it and, on `entitlement.changed`, drops the user's cached token at
   * once. Unset (and no `adminKey` to register with): that route answers 404 and decisions follow
   * the changes feed alone.
   */
  webhookSecret?: string;
  /** The id (`we_…`) of the endpoint `webhookSecret` belongs to: with `adminKey`, that endpoint is reused without rotating its secret. */
  webhookEndpointId?: string;
  /**
   * An `admin` API key of the worker (startJobBoard only): the app then registers its own receiver,
   * `<origin>/webhooks/billing` for `entitlement.changed`, listing the endpoints first and reusing
   * the one with that URL. Server-side only, never rendered or logged.
   */
  adminKey?: string;
}

type Optional = "fetch" | "changesPollIntervalMs" | "webhookSecret" | "webhookEndpointId" | "adminKey";
export type ResolvedConfig = Required<Omit<JobBoardConfig, Optional>> & Pick<JobBoardConfig, Optional>;

export const DEFAULTS = {
  billingUrl: "http://127.0.0.1:8787",
  issuer: "https://billing.federaljobadvisor.com",
  audience: "federal-job-advisor",
  port: 3000,
  host: "127.0.0.1",
} as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** Fills in the defaults and checks the values; throws ConfigError naming what is wrong. */
export function resolveConfig(config: JobBoardConfig): ResolvedConfig {
  if (!config.serviceKey) throw new ConfigError("serviceKey (BILLING_SERVICE_KEY) is required: a service API key of the billing worker");
  if (!config.issuer || !config.audience) throw new ConfigError("issuer and audience (ENTITLEMENTS_ISSUER, ENTITLEMENTS_AUDIENCE) are required");
  if (config.webhookSecret !== undefined && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(config.webhookSecret))
    throw new ConfigError("webhookSecret (JOB_BOARD_WEBHOOK_SECRET) must be the endpoint's whsec_<base64> secret");
  const port = config.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`port must be 0-65535, got ${port}`);
  const host = config.host ?? DEFAULTS.host;
  const origin = new URL(httpUrl("origin (JOB_BOARD_ORIGIN)", config.origin ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`)).origin;
  return {
    billingUrl: httpUrl("billingUrl (BILLING_URL)", config.billingUrl),
    serviceKey: config.serviceKey,
    issuer: config.issuer,
    audience: config.audience,
    origin,
    port,
    host,
    sessionSecret: config.sessionSecret || randomSecret(),
    fetch: config.fetch,
    changesPollIntervalMs: config.changesPollIntervalMs,
    webhookSecret: config.webhookSecret,
    webhookEndpointId: config.webhookEndpointId,
    adminKey: config.adminKey,
  };
}

/**
 * The configuration from environment variables:
 *
 * | variable | default |
 * |---|---|
 * | `BILLING_URL` | `http://127.0.0.1:8787` |
 * | `BILLING_SERVICE_KEY` | required |
 * | `ENTITLEMENTS_ISSUER` | `https://billing.federaljobadvisor.com` |
 * | `ENTITLEMENTS_AUDIENCE` | `federal-job-advisor` |
 * | `JOB_BOARD_PORT` | `3000` |
 * | `JOB_BOARD_HOST` | `127.0.0.1` |
 * | `JOB_BOARD_ORIGIN` | `http://<host>:<port>` |
 * | `JOB_BOARD_SESSION_SECRET` | random per process |
 * | `JOB_BOARD_WEBHOOK_SECRET` | unset: no push, the changes feed only |
 * | `JOB_BOARD_WEBHOOK_ENDPOINT_ID` | unset |
 * | `BILLING_ADMIN_KEY` | unset: the app does not register its endpoint |
 */
export function configFromEnv(env: Record<string, string | undefined> = process.env): JobBoardConfig {
  const port = env.JOB_BOARD_PORT ? Number(env.JOB_BOARD_PORT) : DEFAULTS.port;
  if (!Number.isInteger(port)) throw new ConfigError(`JOB_BOARD_PORT must be a port number, got ${JSON.stringify(env.JOB_BOARD_PORT)}`);
  return {
    billingUrl: env.BILLING_URL || DEFAULTS.billingUrl,
    serviceKey: env.BILLING_SERVICE_KEY ?? "",
    issuer: env.ENTITLEMENTS_ISSUER || DEFAULTS.issuer,
    audience: env.ENTITLEMENTS_AUDIENCE || DEFAULTS.audience,
    port,
    host: env.JOB_BOARD_HOST || DEFAULTS.host,
    ...(env.JOB_BOARD_ORIGIN ? { origin: env.JOB_BOARD_ORIGIN } : {}),
    ...(env.JOB_BOARD_SESSION_SECRET ? { sessionSecret: env.JOB_BOARD_SESSION_SECRET } : {}),
    ...(env.JOB_BOARD_WEBHOOK_SECRET ? { webhookSecret: env.JOB_BOARD_WEBHOOK_SECRET } : {}),
    ...(env.JOB_BOARD_WEBHOOK_ENDPOINT_ID ? { webhookEndpointId: env.JOB_BOARD_WEBHOOK_ENDPOINT_ID } : {}),
    ...(env.BILLING_ADMIN_KEY ? { adminKey: env.BILLING_ADMIN_KEY } : {}),
  };
}
