/**
 * Verifies a Stripe webhook on the raw body before anything else looks at it, with the
 * official library's verifier, trying each configured secret so a secret can be rotated with
 * no lost event.
 */
import { DomainError } from "../errors";
import { cryptoProvider, Stripe } from "./stripe";

export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** @param nowMs the time the signature's age is measured at (stripe-node takes milliseconds). */
export async function verifyWebhook(rawBody: string, header: string | undefined, secrets: string[], nowMs: number): Promise<Stripe.Event> {
  if (!header) {
    throw new DomainError("invalid_signature", "The Stripe-Signature header is missing; only Stripe may call this endpoint.", { errors: [{ field: "stripe-signature", message: "missing" }] });
  }
  // stripe-node measures only a signature's age, so a timestamp dated ahead would pass and stay
  // replayable until then: refuse any timestamp more than the tolerance away, either way.
  const signedAt = signatureTimestamp(header);
  let stale = signedAt !== null && Math.abs(nowMs / 1000 - signedAt) > SIGNATURE_TOLERANCE_SECONDS;
  for (const secret of stale ? [] : secrets) {
    try {
      return await Stripe.webhooks.constructEventAsync(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS, cryptoProvider, nowMs);
    } catch (e) {
      if (e instanceof SyntaxError) {
        throw new DomainError("malformed_json", "The signed body is not valid JSON.");
      }
      if (!(e instanceof Stripe.errors.StripeSignatureVerificationError)) throw e;
      if (/tolerance/i.test(e.message)) stale = true;
      if (/Unable to extract timestamp and signatures/i.test(e.message)) {
        throw new DomainError("invalid_signature", "The Stripe-Signature header is malformed: expected `t=<unix seconds>,v1=<hex hmac>`.", { errors: [{ field: "stripe-signature", message: "malformed" }] });
      }
    }
  }
  throw new DomainError(
    "invalid_signature",
    stale
      ? `The signature's timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from now: a replay, or a clock that is off.`
      : "No signature matches any configured webhook secret (STRIPE_WEBHOOK_SECRETS).",
    { errors: [{ field: "stripe-signature", message: stale ? "timestamp outside tolerance" : "no matching signature" }] },
  );
}

/** The `t=` of a Stripe-Signature header, or null when there is none (the verifier then says the header is malformed). */
function signatureTimestamp(header: string): number | null {
  for (const part of header.split(",")) {
    const [key, value] = part.split("=", 2);
    if (key?.trim() === "t" && value !== undefined && /^\d+$/.test(value.trim())) return Number(value.trim());
  }
  return null;
}
