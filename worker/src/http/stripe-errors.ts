import Stripe from "stripe";
import { ApiError } from "./errors";

type StripeError = InstanceType<typeof Stripe.errors.StripeError>;

/** Stripe codes that mean our request to Stripe was malformed: a bug of ours, not the caller's. */
const MALFORMED = /^(parameter_|parameters_exclusive$|url_invalid$)/;

/**
 * What a Stripe error means to our caller. Stripe's own message may name our account and its
 * objects, so only its stable `code` is passed on (as `stripe_code`), never the message.
 *   - a refusal of the objects' current state (`resource_missing`, `invoice_not_editable`, or
 *     no code at all): 409, retrying as is will not help
 *   - a declined card: 402
 *   - Stripe limiting our requests: 503 with Retry-After
 *   - Stripe refusing our key: 503 config_invalid, the operator's to fix
 *   - a request of ours Stripe finds malformed: 500, our bug
 *   - no answer or Stripe's own failure: 502, worth a retry
 */
export function fromStripe(err: StripeError): ApiError {
  const code = err.code;
  const stripeCode = code ? { stripe_code: code } : {};
  if (err instanceof Stripe.errors.StripeRateLimitError) {
    return new ApiError("unavailable", "Stripe is limiting our requests just now; retry in a minute.", { headers: { "retry-after": "60" }, extensions: stripeCode, cause: err });
  }
  if (err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError) {
    return new ApiError("config_invalid", "Stripe refused this deployment's API key (STRIPE_SECRET_KEY); the operator must set a valid one with the permissions the README lists.", { cause: err });
  }
  if (err instanceof Stripe.errors.StripeCardError) {
    const decline = err.decline_code ?? code ?? "declined";
    return new ApiError("payment_failed", `The card was declined (${decline}); update the payment method (POST /v1/portal) and try again.`, {
      extensions: { ...stripeCode, decline_code: decline },
      cause: err,
    });
  }
  // Stripe sends many refusals of state with no code at all (a schedule already released, an
  // inactive promotion code): only a code naming a parameter marks our own malformed request.
  if (err instanceof Stripe.errors.StripeInvalidRequestError && !(code && MALFORMED.test(code))) {
    return new ApiError(
      "conflict",
      `Stripe refused this in the current state of the billing objects${code ? ` (Stripe code \`${code}\`)` : ""}: retrying as is will not help; read the subscription again, or quote the request id to support.`,
      { extensions: stripeCode, cause: err },
    );
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError) {
    return new ApiError("internal", "Something went wrong on our side; the request id identifies it in our logs.", { cause: err });
  }
  return new ApiError("upstream_unavailable", "Stripe did not answer as expected; retry in a minute. The request id identifies it in our logs.", { cause: err });
}
