import { z } from "@hono/zod-openapi";

export const ProblemSchema = z
  .object({
    type: z.url(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    code: z.string(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .openapi("Problem");

export const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: ProblemSchema } } });

/** The error responses every keyed route can give, for the OpenAPI document. */
export const keyedErrors = {
  400: problem("Invalid input; `errors` names each failing field"),
  401: problem("Missing, malformed, unknown, revoked or expired API key"),
  403: problem("The key's role lacks the route's permission"),
  415: problem("The body is not JSON"),
  429: problem("Rate limited; see Retry-After"),
} as const;

export const publicErrors = { 429: problem("Rate limited; see Retry-After") } as const;
export const notFoundProblem = { 404: problem("No such resource") } as const;
export const conflictProblem = { 409: problem("The resource is not in a state that allows this") } as const;
export const paymentFailedProblem = { 402: problem("A charge made now was declined; nothing was changed") } as const;
export const unprocessableProblem = { 422: problem("The request asks for what already is") } as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

/**
 * A presenter's schema (plain zod, worker/src/presenters/) under its OpenAPI component name. A
 * zod schema built before @hono/zod-openapi extended zod has no `.openapi`, so the name goes on a
 * copy made now; the presenter's own schema, which the tools' contracts share, stays unnamed.
 */
export const named = <T extends z.ZodType>(schema: T, name: string): T => (schema.clone() as T).openapi(name) as T;
