/**
 * Verifies a Stripe webhook on the raw body before anything else looks at it, with the
 * official library's verifier, trying each configured secret so a secret can be rotated with
 * no lost event.
 */
import { ApiError } from "../http/errors";
import { cryptoProvider, Stripe } from "./stripe";

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export async function verifyWebhook(rawBody: string, header: string | undefined, secrets: string[], nowMs?: number): Promise<Stripe.Event> {
  if (!header) {
    throw new ApiError("invalid_signature", "The Stripe-Signature header is missing; only Stripe may call this endpoint.", { errors: [{ field: "header.stripe-signature", message: "missing" }] });
  }
  let stale = false;
  for (const secret of secrets) {
    try {
      return await Stripe.webhooks.constructEventAsync(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS, cryptoProvider, nowMs === undefined ? undefined : Math.floor(nowMs / 1000));
    } catch (e) {
      if (e instanceof SyntaxError) {
        throw new ApiError("malformed_json", "The signed body is not valid JSON.");
      }
      if (!(e instanceof Stripe.errors.StripeSignatureVerificationError)) throw e;
      if (/tolerance/i.test(e.message)) stale = true;
      if (/Unable to extract timestamp and signatures/i.test(e.message)) {
        throw new ApiError("invalid_signature", "The Stripe-Signature header is malformed: expected `t=<unix seconds>,v1=<hex hmac>`.", { errors: [{ field: "header.stripe-signature", message: "malformed" }] });
      }
    }
  }
  throw new ApiError(
    "invalid_signature",
    stale
      ? `The signature's timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from now: a replay, or a clock that is off.`
      : "No signature matches any configured webhook secret (STRIPE_WEBHOOK_SECRETS).",
    { errors: [{ field: "header.stripe-signature", message: stale ? "timestamp outside tolerance" : "no matching signature" }] },
  );
}
