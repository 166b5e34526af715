/**
 * The input of `npm run stripe:setup`, checked before Stripe is asked anything: a bad value is
 * a SetupInputError (one line on stderr, exit status 2), never a stack trace.
 */
import Stripe from "stripe";
import type { Check } from "./plan.ts";

export class SetupInputError extends Error {}

export type Environment = "development" | "test" | "production";
export type KeyMode = "test" | "live";

export interface SetupInput {
  secretKey: string;
  keyMode: KeyMode;
  /** STRIPE_API_BASE (the emulator), or null for Stripe itself. */
  apiBase: URL | null;
  environment: Environment;
  webhookUrl: string | null;
  /** STRIPE_API_VERSION when set (else the worker's pinned one). */
  apiVersion: string | null;
  appBaseUrl: string;
}

/** The `[vars]` of wrangler.toml that setup reads when the environment does not say. */
export function wranglerVars(toml: string): Record<string, string> {
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|$(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  const out: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) out[m[1]!] = m[2]!;
  return out;
}

export function isLocalUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

function checkWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SetupInputError(`--webhook-url ${JSON.stringify(raw)} is not a URL: give the worker's, e.g. https://billing.example.com/webhooks/stripe`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new SetupInputError(`--webhook-url must be an http(s) URL, got ${url.protocol}`);
  if (url.protocol === "http:" && !isLocalUrl(url.href)) throw new SetupInputError(`--webhook-url must use https (Stripe sends live events only to https); http is for localhost only: ${raw}`);
  if (url.pathname !== "/webhooks/stripe") throw new SetupInputError(`--webhook-url must end in /webhooks/stripe, the worker's webhook route: ${raw}`);
  if (url.search || url.hash || url.username || url.password) throw new SetupInputError(`--webhook-url takes no query, fragment or credentials: ${raw}`);
  return url.href;
}

/**
 * The input from the environment and flags; wrangler.toml's [vars] fill ENVIRONMENT,
 * APP_BASE_URL and STRIPE_API_VERSION when the environment has none (what the deployed worker reads).
 */
export function readInput(env: Record<string, string | undefined>, flags: { webhookUrl?: string | undefined }, vars: Record<string, string> = {}): SetupInput {
  const secretKey = env.STRIPE_SECRET_KEY?.trim() ?? "";
  if (!secretKey) throw new SetupInputError("STRIPE_SECRET_KEY is not set: export the account's secret key (sk_live_… or sk_test_…, or a restricted rk_… key) first");
  const mode = /^(?:sk|rk)_(test|live)_[A-Za-z0-9_]+$/.exec(secretKey)?.[1];
  if (mode !== "test" && mode !== "live") throw new SetupInputError(`STRIPE_SECRET_KEY must start with sk_test_, sk_live_, rk_test_ or rk_live_ (got ${secretKey.slice(0, 8)}…)`);
  const environment = env.ENVIRONMENT?.trim() || vars.ENVIRONMENT || "production";
  if (environment !== "development" && environment !== "test" && environment !== "production")
    throw new SetupInputError(`ENVIRONMENT must be development, test or production, got ${JSON.stringify(environment)}`);
  if (mode === "live" && environment !== "production") {
    throw new SetupInputError(`a live Stripe key while ENVIRONMENT is ${environment}: use a test key (sk_test_…) here, or set ENVIRONMENT=production for the production account`);
  }
  let apiBase: URL | null = null;
  const base = env.STRIPE_API_BASE?.trim();
  if (base) {
    try {
      apiBase = new URL(base);
    } catch {
      throw new SetupInputError(`STRIPE_API_BASE ${JSON.stringify(base)} is not a URL (e.g. http://127.0.0.1:12111 for the emulator; unset for Stripe)`);
    }
    if (apiBase.protocol !== "http:" && apiBase.protocol !== "https:") throw new SetupInputError(`STRIPE_API_BASE must be an http(s) URL, got ${base}`);
  }
  const appBaseUrl = (env.APP_BASE_URL?.trim() || vars.APP_BASE_URL || "http://localhost:8787").replace(/\/+$/, "");
  try {
    new URL(appBaseUrl);
  } catch {
    throw new SetupInputError(`APP_BASE_URL ${JSON.stringify(appBaseUrl)} is not a URL: the portal sends customers back to <APP_BASE_URL>/billing`);
  }
  return {
    secretKey,
    keyMode: mode,
    apiBase,
    environment,
    webhookUrl: flags.webhookUrl === undefined ? null : checkWebhookUrl(flags.webhookUrl),
    apiVersion: env.STRIPE_API_VERSION?.trim() || vars.STRIPE_API_VERSION || null,
    appBaseUrl,
  };
}

/** The key's mode against ENVIRONMENT (a live key outside production never gets this far). */
export function keyModeCheck(mode: KeyMode, environment: Environment): Check {
  if (mode === "test" && environment === "production") {
    return { name: "key_mode", ok: false, message: "a test key while ENVIRONMENT is production: customers cannot really pay; use the live key (sk_live_…) for the production account" };
  }
  return { name: "key_mode", ok: true, message: `${mode} key, ENVIRONMENT=${environment}` };
}

export function stripeFor(input: Pick<SetupInput, "secretKey" | "apiBase">): Stripe {
  const base = input.apiBase;
  return new Stripe(input.secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 1,
    timeout: 20_000,
    telemetry: false,
    ...(base ? { host: base.hostname, port: base.port || (base.protocol === "https:" ? 443 : 80), protocol: base.protocol === "https:" ? "https" : "http" } : {}),
  });
}
