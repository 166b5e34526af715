/**
 * Whether Stripe answers an authenticated request: the cheapest one there is (one price), with a
 * short timeout and no retries, so a Stripe outage makes /health slow by seconds, not minutes.
 * The answer is reused for a few seconds per Stripe client: /health is public, and each call
 * must not become a call to Stripe.
 */
import { isDomainError } from "../errors";
import type { Services } from "../services";
import { MONITORING_THRESHOLDS } from "./thresholds";

export interface StripeCheck {
  ok: boolean;
  latency_ms: number;
  /** Why not, in words that name no account or object: `timeout`, `unreachable`, `rejected` (the key), `not_configured`. */
  error?: "timeout" | "unreachable" | "rejected" | "not_configured";
}

const cache = new WeakMap<object, { at: number; result: StripeCheck }>();

export async function checkStripe(s: Pick<Services, "stripe" | "clock">, t = MONITORING_THRESHOLDS): Promise<StripeCheck> {
  let stripe: Services["stripe"];
  try {
    stripe = s.stripe;
  } catch (e) {
    if (isDomainError(e, "config_invalid")) return { ok: false, latency_ms: 0, error: "not_configured" };
    throw e;
  }
  const hit = cache.get(stripe);
  const now = s.clock.now();
  if (hit && now - hit.at < t.stripeCacheMs && now >= hit.at) return hit.result;
  const started = now;
  let result: StripeCheck;
  try {
    await stripe.prices.list({ limit: 1 }, { timeout: t.stripeTimeoutMs, maxNetworkRetries: 0 });
    result = { ok: true, latency_ms: s.clock.now() - started };
  } catch (e) {
    const type = (e as { type?: string }).type;
    const error = type === "StripeAuthenticationError" || type === "StripePermissionError" ? "rejected" : /timed? ?out/i.test(String((e as Error).message)) ? "timeout" : "unreachable";
    result = { ok: false, latency_ms: s.clock.now() - started, error };
  }
  cache.set(stripe, { at: now, result });
  return result;
}
