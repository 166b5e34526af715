/**
 * The one door to Stripe: the official client, on fetch, pointed at Stripe or (with
 * STRIPE_API_BASE) at the offline emulator. Nothing else in the worker builds a Stripe client.
 */
import Stripe from "stripe";
import type { StripeConfig } from "../env";
import { pinnedApiVersion } from "./api-version";

const clients = new Map<string, Stripe>();

export function stripeClient(cfg: StripeConfig): Stripe {
  const cacheKey = `${cfg.STRIPE_SECRET_KEY}|${cfg.STRIPE_API_BASE ?? ""}`;
  let client = clients.get(cacheKey);
  if (!client) {
    const base = cfg.STRIPE_API_BASE ? new URL(cfg.STRIPE_API_BASE) : undefined;
    client = new Stripe(cfg.STRIPE_SECRET_KEY, {
      httpClient: Stripe.createFetchHttpClient(),
      apiVersion: pinnedApiVersion(cfg) as Stripe.LatestApiVersion,
      maxNetworkRetries: 2,
      timeout: 20_000,
      ...(base ? { host: base.hostname, port: base.port || (base.protocol === "https:" ? 443 : 80), protocol: base.protocol === "https:" ? "https" : "http" } : {}),
    });
    clients.set(cacheKey, client);
  }
  return client;
}

const subtle = Stripe.createSubtleCryptoProvider();
const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Per isolate: a secret is imported once, not once per webhook (only configured secrets reach it, so it stays small). */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

/**
 * stripe-node's SubtleCrypto provider, except that each secret is imported as an HMAC key once per
 * isolate: stripe-node imports it again for every signature it checks, which was a good part of a
 * webhook's verification (issue 28, `npm run bench -- webhooks`). The header parsing, the
 * tolerance and the constant-time comparison stay stripe-node's.
 * Annotated so the worker's declarations can be emitted (tsc -b with composite projects).
 */
export const cryptoProvider: ReturnType<typeof Stripe.createSubtleCryptoProvider> = {
  computeHMACSignature: (payload, secret) => subtle.computeHMACSignature(payload, secret),
  async computeHMACSignatureAsync(payload, secret) {
    let key = hmacKeys.get(secret);
    if (!key) {
      key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      // A failed import is not kept: the next call tries again.
      key.catch(() => hmacKeys.delete(secret));
      hmacKeys.set(secret, key);
    }
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await key, encoder.encode(payload)));
    let hex = "";
    for (const byte of mac) hex += HEX[byte];
    return hex;
  },
  computeSHA256Async: (data) => subtle.computeSHA256Async(data),
};
export { Stripe };

/** Stripe has no such object (a 404 `resource_missing`): the one test every caller that treats "gone" apart uses. */
export const isMissing = (e: unknown): boolean => e instanceof Stripe.errors.StripeInvalidRequestError && (e.code === "resource_missing" || e.statusCode === 404);
/** Stripe Tax cannot place the customer's address (asked with `tax.validate_location: "immediately"`). */
export const isTaxLocationInvalid = (e: unknown): boolean => e instanceof Stripe.errors.StripeInvalidRequestError && e.code === "customer_tax_location_invalid";
