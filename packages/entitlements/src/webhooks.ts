/**
 * Receiving the worker's outbound webhooks (`@federal-job-advisor/entitlements/webhooks`):
 * `verifyWebhook(body, headers, secret)` checks a delivery signed to the Standard Webhooks
 * specification and answers the typed event.
 *
 * A subpath of its own, so apps that only decide access do not ship it. It uses WebCrypto's HMAC
 * (`crypto.subtle`, in Workers, Node ≥ 20, Deno, Bun and browsers) rather than the
 * `standardwebhooks` package, which carries its own SHA-256 and base64 in JavaScript: no
 * dependency, and `subtle.verify` compares the MAC in constant time.
 */
import type { BillingCycle, EntitlementStatus, Tier } from "./claims.js";
import type { TokenManager } from "./manager.js";
import { ConfigInvalid, EntitlementsError } from "./errors.js";

// ---------------------------------------------------------------- errors

/** A header is missing or unreadable (`webhook-id`, `webhook-timestamp`, `webhook-signature`), or the body is not an event. */
export class WebhookMalformed extends EntitlementsError {
  static override code = "ERR_WEBHOOK_MALFORMED" as const;
  declare readonly code: "ERR_WEBHOOK_MALFORMED";
}

/** No `v1` signature of `webhook-signature` is the HMAC of this delivery under the secret(s): forged, altered, or another endpoint's secret. */
export class WebhookSignatureInvalid extends EntitlementsError {
  static override code = "ERR_WEBHOOK_SIGNATURE" as const;
  declare readonly code: "ERR_WEBHOOK_SIGNATURE";
}

/** The signature verifies but `webhook-timestamp` is further from now than the tolerance: a replayed or much delayed delivery. */
export class WebhookTimestampInvalid extends EntitlementsError {
  static override code = "ERR_WEBHOOK_TIMESTAMP" as const;
  declare readonly code: "ERR_WEBHOOK_TIMESTAMP";
  /** The delivery's `webhook-timestamp`, unix seconds. */
  readonly timestamp: number;
  constructor(message: string, timestamp: number) {
    super(message);
    this.timestamp = timestamp;
  }
}

/** Every code `verifyWebhook` throws (besides `ERR_CONFIG_INVALID` for an unusable secret). */
export type WebhookErrorCode = typeof WebhookMalformed.code | typeof WebhookSignatureInvalid.code | typeof WebhookTimestampInvalid.code;

// ---------------------------------------------------------------- events (the worker's catalog)

/** An RFC 3339 UTC instant, e.g. `"2026-12-07T09:30:00Z"`. */
export type Instant = string;

/** A user's entitlement in an event: the claims a token carries, without `iss`/`aud`/`sub`/`iat`/`exp`. */
export interface WebhookEntitlement {
  readonly tier: Tier | null;
  readonly status: EntitlementStatus;
  readonly features: readonly string[];
  /** `null` = unlimited. */
  readonly limits: Readonly<Record<string, number | null>>;
  readonly trial_end: Instant | null;
  readonly grace_until: Instant | null;
}

/** A subscription as `GET /v1/subscriptions/{user_id}` answers it. */
export interface WebhookSubscription {
  readonly user_id: string;
  readonly subscription_id: string;
  readonly tier: string | null;
  readonly billing_cycle: BillingCycle | null;
  /** Stripe's subscription status. */
  readonly status: "incomplete" | "incomplete_expired" | "trialing" | "active" | "past_due" | "canceled" | "unpaid" | "paused";
  readonly trial_end: Instant | null;
  readonly current_period_start: Instant | null;
  readonly current_period_end: Instant | null;
  readonly cancel_at_period_end: boolean;
  readonly cancel_at: Instant | null;
  readonly paused: boolean;
  readonly suspended: boolean;
  /** Amounts in integer cents. */
  readonly unpaid_invoice: { readonly invoice_id: string; readonly amount_due: number; readonly currency: string; readonly hosted_invoice_url: string | null } | null;
  readonly pending_change: { readonly tier: string | null; readonly billing_cycle: BillingCycle | null; readonly effective_at: Instant } | null;
  readonly discount: { readonly coupon_id: string; readonly percent_off: number | null; readonly amount_off: number | null; readonly ends_at: Instant | null } | null;
  readonly next_invoice: { readonly amount_due: number; readonly tax: number; readonly currency: string; readonly date: Instant | null } | null;
}

/** An invoice as `GET /v1/invoices` answers it; amounts in integer cents. */
export interface WebhookInvoice {
  readonly id: string;
  readonly number: string | null;
  readonly status: "draft" | "open" | "paid" | "uncollectible" | "void";
  readonly amount_due: number;
  readonly amount_paid: number;
  /** Integer cents credited by credit notes after payment (refunds and balance credits). */
  readonly amount_credited: number;
  readonly subtotal: number;
  readonly tax: number;
  readonly total: number;
  readonly currency: string;
  readonly period_start: Instant | null;
  readonly period_end: Instant | null;
  readonly hosted_invoice_url: string | null;
  readonly lines: readonly { readonly description: string | null; readonly amount: number; readonly proration: boolean }[];
}

/** A refund as `GET /v1/refunds` lists it; the amount in integer cents. */
export interface WebhookRefund {
  /** Stripe's refund id (`re_...`). */
  readonly id: string;
  readonly invoice_id: string | null;
  readonly amount: number;
  readonly currency: string;
  /** The Stripe credit note that accounts for the refund; `null` for a dashboard refund made without one. */
  readonly credit_note_id: string | null;
  /** Stripe's refund status: `pending`, `requires_action`, `succeeded`, `failed`, `canceled`. */
  readonly status: string;
  readonly reason: "requested_by_customer" | "duplicate" | "fraudulent" | "service_issue" | null;
  readonly created_at: Instant;
}

/** The dunning stages, in order (`suspended` ends access). */
export type DunningStage = "dunning_soft" | "dunning_urgent" | "dunning_final" | "suspended";

interface Event<T extends string, D> {
  /** The delivery's `webhook-id`: the same on every retry and replay of this event (deduplicate on it). */
  readonly id: string;
  readonly type: T;
  /** When the change happened (not when this attempt was sent). */
  readonly timestamp: Instant;
  readonly data: D;
}

export type EntitlementChangedEvent = Event<"entitlement.changed", { readonly user_id: string; readonly before: WebhookEntitlement | null; readonly after: WebhookEntitlement }>;
export type SubscriptionEvent = Event<"subscription.created" | "subscription.updated" | "subscription.canceled", { readonly user_id: string; readonly subscription: WebhookSubscription }>;
export type InvoiceEvent = Event<"invoice.paid" | "invoice.payment_failed", { readonly user_id: string; readonly invoice: WebhookInvoice }>;
export type DunningStageReachedEvent = Event<"dunning.stage_reached", { readonly user_id: string; readonly invoice_id: string; readonly stage: DunningStage; readonly day: number }>;
export type DunningRecoveredEvent = Event<"dunning.recovered", { readonly user_id: string; readonly invoice_id: string }>;
export type RefundEvent = Event<"refund.created" | "refund.updated", { readonly user_id: string; readonly refund: WebhookRefund }>;

/**
 * The events the worker sends, discriminated by `type`. The worker adds types as features land:
 * one this version does not know arrives all the same (`type` is then none of these), so end a
 * `switch` with a `default` that answers 2xx, or the worker retries it for three days.
 */
export type WebhookEvent = EntitlementChangedEvent | SubscriptionEvent | InvoiceEvent | DunningStageReachedEvent | DunningRecoveredEvent | RefundEvent;
export type WebhookEventType = WebhookEvent["type"];

// ---------------------------------------------------------------- verification

export interface VerifyWebhookOptions {
  /** Largest accepted distance between `webhook-timestamp` and now, seconds (either way). Default 300. */
  tolerance?: number;
  /** Clock in milliseconds (inject in tests). Default `Date.now`. */
  now?: () => number;
}

/** Request headers: a `Headers` (fetch, Hono's `c.req.raw.headers`) or a plain object (Node's `req.headers`, any case). */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

const SECRET_PREFIX = "whsec_";
const MAX_SIGNATURE_HEADER = 4096;
const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let value = record[name];
  if (value === undefined) {
    for (const k in record) if (k.toLowerCase() === name) value = record[k];
  }
  return Array.isArray(value) ? value.join(" ") : (value as string | undefined);
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (key === undefined) {
    const bytes = typeof secret === "string" && secret.startsWith(SECRET_PREFIX) ? decodeBase64(secret.slice(SECRET_PREFIX.length)) : undefined;
    if (bytes === undefined || bytes.length === 0) throw new ConfigInvalid("the webhook secret must be the endpoint's whsec_<base64> secret");
    key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    // A receiver holds one or two secrets; the cap only bounds a misuse (a secret per request).
    if (keyCache.size >= 16) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(secret, key);
  }
  return key;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Verifies one delivery of the worker's outbound webhooks and answers its event.
 *
 * - `body`: the request body exactly as received (read it as text or bytes before any JSON parsing:
 *   the signature covers the bytes).
 * - `secret`: the endpoint's `whsec_…` secret, or several (while you move to a rotated one).
 *
 * Accepts the delivery when any `v1` signature of `webhook-signature` (space-separated; the worker
 * sends two for 24 h after a rotation) is the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`,
 * compared in constant time, and `webhook-timestamp` is within `tolerance` of now. Throws
 * `WebhookMalformed`, `WebhookSignatureInvalid` or `WebhookTimestampInvalid` (answer 4xx:
 * the worker retries), or `ConfigInvalid` for a secret that is not `whsec_<base64>`.
 */
export async function verifyWebhook(body: string | Uint8Array | ArrayBuffer, headers: WebhookHeaders, secret: string | readonly string[], options: VerifyWebhookOptions = {}): Promise<WebhookEvent> {
  const secrets = typeof secret === "string" ? [secret] : [...(secret ?? [])];
  if (secrets.length === 0) throw new ConfigInvalid("a webhook secret is required");
  const keys = await Promise.all(secrets.map(hmacKey));
  const tolerance = options.tolerance ?? 300;
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) throw new ConfigInvalid("tolerance must be a number of seconds, at least 0");
  if (headers === null || typeof headers !== "object") throw new WebhookMalformed("no headers");

  const id = header(headers, "webhook-id");
  const timestampText = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id) throw new WebhookMalformed("the webhook-id header is missing");
  if (!timestampText || !/^\d{1,12}$/.test(timestampText.trim())) throw new WebhookMalformed("the webhook-timestamp header is missing or not unix seconds");
  if (!signatures) throw new WebhookMalformed("the webhook-signature header is missing");
  if (signatures.length > MAX_SIGNATURE_HEADER) throw new WebhookMalformed("the webhook-signature header is too long");
  const timestamp = Number(timestampText.trim());

  const bytes = typeof body === "string" ? encoder.encode(body) : body instanceof Uint8Array ? body : new Uint8Array(body);
  const prefix = encoder.encode(`${id}.${timestampText.trim()}.`);
  const signed: Uint8Array<ArrayBuffer> = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix);
  signed.set(bytes, prefix.length);

  let valid = false;
  for (const entry of signatures.split(" ")) {
    // Other versions (`v1a,` for asymmetric keys) are the spec's; this worker signs `v1` only.
    if (!entry.startsWith("v1,")) continue;
    const mac = decodeBase64(entry.slice(3));
    if (mac === undefined || mac.length !== 32) continue;
    for (const key of keys) if (await crypto.subtle.verify("HMAC", key, mac, signed)) valid = true;
  }
  if (!valid) throw new WebhookSignatureInvalid("no webhook-signature matches this delivery and secret");

  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance) throw new WebhookTimestampInvalid(`webhook-timestamp is ${nowSeconds - timestamp} s from now (tolerance ${tolerance} s)`, timestamp);

  let event: unknown;
  try {
    event = JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(bytes));
  } catch {
    throw new WebhookMalformed("the body is not JSON");
  }
  if (!isObject(event) || typeof event.type !== "string" || typeof event.timestamp !== "string" || !isObject(event.data)) {
    throw new WebhookMalformed("the body is not an event { type, timestamp, data }");
  }
  if (event.type === "entitlement.changed" && (typeof event.data.user_id !== "string" || !isObject(event.data.after))) {
    throw new WebhookMalformed("entitlement.changed has no user_id or after");
  }
  return { ...event, id } as unknown as WebhookEvent;
}

/**
 * Hands a verified event to the token manager: an `entitlement.changed` drops that user's cached
 * token at once (a token fetch already under way for them is made again), so their next decision
 * is the new one without waiting for the changes feed. Answers whether it was an
 * `entitlement.changed`; other events are left alone. It trusts the event: pass only what
 * `verifyWebhook` returned. (Here rather than a method of the manager, so apps that only decide
 * access do not bundle it.)
 */
export function applyWebhook(entitlements: Pick<TokenManager, "invalidate">, event: { readonly type: string; readonly data: unknown }): boolean {
  const userId = (event?.data as { user_id?: unknown } | undefined)?.user_id;
  if (event?.type !== "entitlement.changed" || typeof userId !== "string" || userId.length === 0) return false;
  entitlements.invalidate(userId);
  return true;
}
