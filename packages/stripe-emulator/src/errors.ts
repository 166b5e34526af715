/**
 * Errors in Stripe's wire shape. Handlers throw StripeApiError; the server turns it into
 * `{"error": {...}}` with the HTTP status Stripe uses for that error type, so the official
 * client raises the same error class (StripeInvalidRequestError, StripeCardError, ...) it
 * would against api.stripe.com.
 */
export type StripeErrorType = "api_error" | "card_error" | "idempotency_error" | "invalid_request_error" | "authentication_error" | "rate_limit_error";

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  request_log_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

export function invalidRequest(message: string, param?: string, code?: string, status = 400): StripeApiError {
  const body: StripeErrorBody = { type: "invalid_request_error", message };
  if (param !== undefined) body.param = param;
  if (code !== undefined) {
    body.code = code;
    body.doc_url = `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}`;
  }
  return new StripeApiError(status, body);
}

export function unknownParameter(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, param, "parameter_unknown");
}

export function missingParameter(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
}

export function invalidParameter(param: string, message: string): StripeApiError {
  return invalidRequest(message, param, "parameter_invalid_empty" === message ? message : undefined);
}

/** Stripe's 404 for an id that does not exist: `No such customer: 'cus_x'`. */
export function resourceMissing(kind: string, id: string, param = "id"): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, param, "resource_missing", 404);
}

export function authenticationError(message: string): StripeApiError {
  return new StripeApiError(401, { type: "authentication_error", message });
}

export function idempotencyMismatch(key: string): StripeApiError {
  return new StripeApiError(400, {
    type: "idempotency_error",
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

export function idempotencyInFlight(): StripeApiError {
  return new StripeApiError(409, {
    type: "idempotency_error",
    message: "There is currently another in-progress request using this Stripe-Account, Idempotency-Key and API key. Please try again later.",
  });
}

export interface CardDecline {
  code: string;
  declineCode?: string;
  message: string;
}

export function cardError(decline: CardDecline, extra: { charge?: string; payment_intent?: unknown; payment_method?: unknown; param?: string } = {}): StripeApiError {
  const body: StripeErrorBody = {
    type: "card_error",
    code: decline.code,
    message: decline.message,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, "-")}`,
    ...extra,
  };
  if (decline.declineCode !== undefined) body.decline_code = decline.declineCode;
  return new StripeApiError(402, body);
}
