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
  if (signedAt === null) throw malformedHeader();
  let stale = Math.abs(nowMs / 1000 - signedAt) > SIGNATURE_TOLERANCE_SECONDS;
  for (const secret of stale ? [] : secrets) {
    try {
      return await Stripe.webhooks.constructEventAsync(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS, cryptoProvider, nowMs);
    } catch (e) {
      if (e instanceof SyntaxError) {
        throw new DomainError("malformed_json", "The signed body is not valid JSON.");
      }
      if (!(e instanceof Stripe.errors.StripeSignatureVerificationError)) throw e;
      if (/tolerance/i.test(e.message)) stale = true;
      if (/Unable to extract timestamp and signatures/i.test(e.message)) throw malformedHeader();
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

const malformedHeader = () =>
  new DomainError("invalid_signature", "The Stripe-Signature header is malformed: expected `t=<unix seconds>,v1=<hex hmac>`.", { errors: [{ field: "stripe-signature", message: "malformed" }] });

/**
 * The `t=` of a Stripe-Signature header, read as stripe-node reads it (the exact key `t`), or
 * null unless there is exactly one and it is all digits: stripe-node keeps the last `t=` and
 * parses it with parseInt, so a second one or trailing junk would let it verify another
 * timestamp than the one checked here.
 */
function signatureTimestamp(header: string): number | null {
  const stamps = header
    .split(",")
    .map((part) => part.split("="))
    .filter(([key]) => key === "t");
  const value = stamps.length === 1 ? stamps[0]![1] : undefined;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}
