import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import Stripe from "stripe";
import { DomainError } from "../errors";
import { describeError, jsonLogger } from "../log";
import type { AppEnv } from "./context";
import { ApiError, PROBLEM_CONTENT_TYPE, type FieldError, type Problem } from "./errors";
import { fromStripe } from "./stripe-errors";

/**
 * Where a domain input sits in this request: a path parameter, a query parameter, a header
 * (names with a dash), or else the JSON body. Domain errors name inputs, not request paths.
 */
function locate(c: Context<AppEnv>, field: string): string {
  if (c.req.param(field) !== undefined) return `path.${field}`;
  if (new URL(c.req.url).searchParams.has(field)) return `query.${field}`;
  if (field.includes("-")) return `header.${field}`;
  return `body.${field}`;
}

function fromDomain(err: DomainError, c: Context<AppEnv>): ApiError {
  const errors: FieldError[] | undefined = err.code === "config_invalid" ? err.details.errors : err.details.errors?.map((e) => ({ ...e, field: locate(c, e.field) }));
  return new ApiError(err.code, err.message, { ...(errors ? { errors } : {}), ...(err.details.extensions ? { extensions: err.details.extensions } : {}), cause: err });
}

function toApiError(err: unknown, c: Context<AppEnv>): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DomainError) return fromDomain(err, c);
  if (err instanceof HTTPException) {
    // Hono's own validator and body parser throw these; keep their meaning, our shape.
    if (err.status === 400 && /json/i.test(err.message)) return new ApiError("malformed_json", "The request body is not valid JSON; send a JSON object with Content-Type: application/json.");
    if (err.status === 413) return new ApiError("payload_too_large", err.message);
    if (err.status === 401) return new ApiError("unauthenticated", err.message || "Authentication is required.");
    return new ApiError(err.status >= 500 ? "internal" : "validation_failed", err.message || "The request could not be processed.");
  }
  if (err instanceof Stripe.errors.StripeError) return fromStripe(err);
  return new ApiError("internal", "Something went wrong on our side; the request id identifies it in our logs.", { cause: err });
}

/** The one error handler: everything a client sees on failure is RFC 9457 problem+json. */
export function onError(err: unknown, c: Context<AppEnv>): Response {
  const apiError = toApiError(err, c);
  const requestId = c.get("requestId");
  if (apiError.status >= 500) {
    const clientRequestId = c.get("clientRequestId");
    // The request's own logger when the services were built; an error before that still logs alike.
    const log = c.get("services")?.log ?? jsonLogger();
    log.log("error", "request failed", {
      request_id: requestId,
      ...(clientRequestId ? { client_request_id: clientRequestId } : {}),
      code: apiError.code,
      error: describeError(apiError.cause ?? apiError),
    });
  }
  return problemResponse(apiError.toProblem(new URL(c.req.url).pathname, requestId), apiError.headers);
}

export function problemResponse(problem: Problem, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status as ContentfulStatusCode,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers },
  });
}
