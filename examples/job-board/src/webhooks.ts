/**
 * The demo app's subscription to the worker's outbound webhooks: with an admin key it registers
 * its own receiver (`POST /v1/webhook-endpoints`, events `entitlement.changed`), idempotently, so
 * restarting the app does not pile up endpoints that all deliver to the same URL.
 */

/** The path the app receives deliveries on (app.ts). */
export const WEBHOOK_PATH = "/webhooks/billing";
/** What the app listens to: an entitlement change drops the user's cached token. */
export const WEBHOOK_EVENTS = ["entitlement.changed"] as const;

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
}

export interface WebhookRegistration {
  /** The endpoint's id, `we_…`. */
  id: string;
  url: string;
  /** The `whsec_…` secret deliveries are signed with. */
  secret: string;
  /** What registering did: made the endpoint, reused it with the known secret, or reused it with a rotated secret. */
  action: "created" | "reused" | "rotated";
}

export class WebhookRegistrationError extends Error {
  override name = "WebhookRegistrationError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface RegisterOptions {
  billingUrl: string;
  /** An `admin` API key of the worker (the webhook-endpoints routes are admin-only). */
  adminKey: string;
  /** The receiver's public URL, e.g. `http://127.0.0.1:3000/webhooks/billing`. */
  url: string;
  /**
   * The endpoint and secret this app registered before (saved by the caller): reused as they are
   * when that endpoint still exists for `url`. Without it an existing endpoint's secret is rotated,
   * since the worker shows a secret only when it makes or rotates one.
   */
  known?: { id: string; secret: string };
  description?: string;
  fetch?: typeof fetch;
}

/**
 * Makes sure one enabled endpoint for `url` receives `entitlement.changed`, and answers its secret:
 * lists the endpoints first and reuses the one with the same URL (enabling it and adding the event
 * when needed), else creates it. Throws WebhookRegistrationError when the worker refuses, e.g. 404
 * from a worker without outbound webhooks.
 */
export async function registerWebhookEndpoint(opts: RegisterOptions): Promise<WebhookRegistration> {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const base = opts.billingUrl.replace(/\/+$/, "");
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await doFetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${opts.adminKey}`, accept: "application/json", ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    const json = (() => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    })();
    if (!res.ok) {
      const detail = (json as { detail?: unknown } | undefined)?.detail;
      const why = res.status === 404 && method === "GET" ? "the worker has no outbound webhooks (GET /v1/webhook-endpoints answered 404)" : typeof detail === "string" ? detail : `HTTP ${res.status}`;
      throw new WebhookRegistrationError(`${method} ${path}: ${why}`, res.status);
    }
    return json as T;
  }

  const listed = await call<{ data?: WebhookEndpoint[] } | WebhookEndpoint[]>("GET", "/v1/webhook-endpoints");
  const endpoints = Array.isArray(listed) ? listed : (listed?.data ?? []);
  const existing = endpoints.find((e) => e.url === opts.url);
  if (existing === undefined) {
    const made = await call<WebhookEndpoint & { secret: string }>("POST", "/v1/webhook-endpoints", {
      url: opts.url,
      events: [...WEBHOOK_EVENTS],
      description: opts.description ?? "job-board demo: drops a user's cached token on entitlement.changed",
    });
    return { id: made.id, url: made.url, secret: made.secret, action: "created" };
  }
  const listens = existing.events.includes("*") || WEBHOOK_EVENTS.every((e) => existing.events.includes(e));
  if (!existing.enabled || !listens) {
    await call("PATCH", `/v1/webhook-endpoints/${encodeURIComponent(existing.id)}`, {
      enabled: true,
      ...(!listens && { events: [...new Set([...existing.events, ...WEBHOOK_EVENTS])] }),
    });
  }
  if (opts.known !== undefined && opts.known.id === existing.id) return { id: existing.id, url: existing.url, secret: opts.known.secret, action: "reused" };
  const rotated = await call<{ id: string; secret: string }>("POST", `/v1/webhook-endpoints/${encodeURIComponent(existing.id)}/rotate-secret`);
  return { id: existing.id, url: existing.url, secret: rotated.secret, action: "rotated" };
}
