/**
 * Errors as a client sees them. Every failure becomes an ApiError whose code fixes the HTTP
 * status and the stable problem `type` URI (RFC 9457), so a client can branch on `type`
 * without parsing prose. Domain code throws DomainError (../errors.ts); `onError` maps it here.
 */
import type { ErrorCode as DomainCode } from "../errors";

export const PROBLEM_BASE = "https://federaljobadvisor.com/problems/";

const CODES = {
  validation_failed: { status: 400, title: "Your request is not valid" },
  malformed_json: { status: 400, title: "The request body is not valid JSON" },
  body_not_allowed: { status: 400, title: "This route takes no request body" },
  invalid_signature: { status: 400, title: "The webhook signature is not valid" },
  unauthenticated: { status: 401, title: "Authentication is required" },
  forbidden: { status: 403, title: "This API key may not do that" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  payment_past_due: { status: 409, title: "An invoice is past due; pay it first" },
  amount_changed: { status: 409, title: "The amount changed since the preview" },
  dispute_closed: { status: 409, title: "The dispute takes no more evidence" },
  evidence_past_due: { status: 409, title: "The dispute's evidence due date has passed" },
  seats_exhausted: { status: 409, title: "Every seat is taken" },
  renewal_scheduled: { status: 409, title: "The next term is scheduled already" },
  no_change: { status: 422, title: "Nothing to change" },
  refund_exceeds_paid: { status: 422, title: "More than was paid and not yet refunded" },
  payment_failed: { status: 402, title: "The payment was declined" },
  idempotency_key_reused: { status: 422, title: "The Idempotency-Key was used for another request" },
  idempotency_key_in_use: { status: 409, title: "A request with this Idempotency-Key is still running" },
  idempotency_outcome_unknown: { status: 409, title: "The request with this Idempotency-Key stopped without an answer" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "Unsupported content type" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  upstream_unavailable: { status: 502, title: "An upstream service failed" },
  config_invalid: { status: 503, title: "The service is misconfigured" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const satisfies Record<DomainCode | string, { status: number; title: string }>;

/** A problem code: every domain code, and the ones only HTTP has (rate limits, media types, body size). */
export type ProblemCode = keyof typeof CODES;

export interface FieldError {
  /** Dotted path of the failing field in the request, e.g. `body.role` or `query.limit`. */
  field: string;
  message: string;
  code?: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: ProblemCode;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class ApiError extends Error {
  override name = "ApiError";
  readonly code: ProblemCode;
  readonly status: number;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;
  readonly extensions?: Record<string, unknown>;

  constructor(code: ProblemCode, detail: string, options: { errors?: FieldError[]; headers?: Record<string, string>; extensions?: Record<string, unknown>; cause?: unknown } = {}) {
    super(detail, { cause: options.cause });
    this.code = code;
    this.status = CODES[code].status;
    if (options.errors) this.errors = options.errors;
    if (options.headers) this.headers = options.headers;
    if (options.extensions) this.extensions = options.extensions;
  }

  toProblem(instance?: string, requestId?: string): Problem {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: CODES[this.code].title,
      status: this.status,
      detail: this.message,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...(requestId ? { request_id: requestId } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export function problemType(code: ProblemCode): string {
  return PROBLEM_BASE + code.replaceAll("_", "-");
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
