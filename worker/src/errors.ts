/**
 * The domain's errors: a code a caller can branch on, a message a person can act on, and
 * optional details. They say nothing about HTTP (no status, no request field paths): `http/`
 * maps each code to a status and a problem `type` in its one `onError`, and a cron or queue
 * consumer logs them. This file imports nothing, so any folder may throw them.
 */
export type ErrorCode =
  /** The input breaks a rule (a date in the past, `to` before `from`). */
  | "validation_failed"
  /** A webhook's signature does not verify. */
  | "invalid_signature"
  /** A signed body that is not JSON. */
  | "malformed_json"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  /** The resource is not in a state that allows this. */
  | "conflict"
  /** The request asks for what already is (the plan the user has, a change already scheduled). */
  | "no_change"
  /** An invoice of the subscription is unpaid: it must be paid before the subscription changes. */
  | "payment_past_due"
  /** The amount the caller confirmed no longer matches a fresh preview: nothing was changed. */
  | "amount_changed"
  /** Every seat of the organization is taken: release one or buy more. */
  | "seats_exhausted"
  /** The organization's next term is scheduled (renewed): its seats change after that term starts. */
  | "renewal_scheduled"
  /** A refund asks for more than the invoice paid and has not yet had back. */
  | "refund_exceeds_paid"
  /** A dispute Stripe shows as closed or already under review: it takes no evidence. */
  | "dispute_closed"
  /** A dispute whose evidence due date has passed (or that allows no response). */
  | "evidence_past_due"
  /** A charge made now was declined; the change it paid for was not made. */
  | "payment_failed"
  /** An Idempotency-Key sent again with another request than the one it was first used for. */
  | "idempotency_key_reused"
  /** An Idempotency-Key whose first request is still running. */
  | "idempotency_key_in_use"
  /** An Idempotency-Key whose first request stopped without an answer: whether it acted is unknown. */
  | "idempotency_outcome_unknown"
  /** A setting or secret is missing or malformed. */
  | "config_invalid"
  /** Stripe (or another upstream) failed or answered unexpectedly. */
  | "upstream_unavailable"
  | "unavailable";

export interface ErrorDetails {
  /**
   * The failing inputs, each by its API name (`expires_at`, `id`, `stripe-signature`), or the
   * failing settings by variable name for `config_invalid`. Where the input sits in a request
   * (`body.`, `path.`, `header.`) is for `http/` to say.
   */
  errors?: { field: string; message: string; code?: string }[];
  /** Extra members a client may read (kept in the problem document). */
  extensions?: Record<string, unknown>;
}

export class DomainError extends Error {
  override name = "DomainError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

export function isDomainError(error: unknown, code?: ErrorCode): error is DomainError {
  return error instanceof DomainError && (code === undefined || error.code === code);
}

/** A validation error about one input, by its API name. */
export function invalidInput(field: string, message: string, detail: string): DomainError {
  return new DomainError("validation_failed", detail, { errors: [{ field, message }] });
}
