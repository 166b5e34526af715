/**
 * Express / Connect / `node:http` middleware, with structural types only (no express import).
 *
 * ```ts
 * import { requireFeature } from "@federal-job-advisor/entitlements/node";
 * app.get("/jobs/nationwide", requireFeature(entitlements, "nationwide_job_search", { userId: (req) => req.user?.id }), handler);
 * ```
 */
import type { Decision, EntitlementClaims } from "./claims.js";
import type { TokenManager } from "./manager.js";
import { ownEvaluation } from "./internal/own-evaluation.js";
import { toProblem, unauthenticatedProblem, warningOf, WARNING_HEADER, type ProblemOptions } from "./problem.js";

/** The smallest request shape the middleware needs (an `IncomingMessage` or express `Request` fits). */
export interface NodeRequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/** What the middleware adds to the request. */
export interface EntitlementRequest {
  entitlement?: Decision;
  entitlementClaims?: EntitlementClaims | null;
}

/** The smallest response shape the middleware needs (a `ServerResponse` or express `Response` fits). */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(chunk: string): unknown;
}

export interface RequireFeatureOptions<Req> extends ProblemOptions {
  /** The authenticated user's id; return undefined/null/"" when unauthenticated (→ 401). */
  userId: (req: Req) => string | undefined | null | Promise<string | undefined | null>;
}

type Checker<F extends string> = Pick<TokenManager<F>, "evaluate">;

function send(res: NodeResponseLike, status: number, headers: Readonly<Record<string, string>>, body: unknown): void {
  res.statusCode = status;
  for (const name of Object.keys(headers)) res.setHeader(name, headers[name] as string);
  res.end(JSON.stringify(body));
}

/**
 * `(req, res, next)` middleware: calls `next()` with `req.entitlement` set when the user may use
 * `feature`; otherwise answers 403 (or 401/503) `application/problem+json`. Past-due users pass
 * with an `Entitlement-Warning` response header. Claims that `evaluate` returns for another user
 * than `userId` are refused (503).
 */
export function requireFeature<Req extends object = NodeRequestLike, F extends string = string>(
  entitlements: Checker<F>,
  // NoInfer: F comes from `entitlements` alone, so a key outside its feature union is an error.
  feature: NoInfer<F>,
  options: RequireFeatureOptions<Req>,
): (req: Req, res: NodeResponseLike, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => options.userId(req))
      .then(async (userId) => {
        if (!userId) {
          const p = unauthenticatedProblem(feature, options);
          send(res, p.status, p.headers, p.body);
          return;
        }
        const { decision, claims } = ownEvaluation(await entitlements.evaluate(userId, feature), userId);
        const r = req as Req & EntitlementRequest;
        r.entitlement = decision;
        r.entitlementClaims = claims;
        if (!decision.allowed) {
          const p = toProblem(decision, feature, options);
          send(res, p.status, p.headers, p.body);
          return;
        }
        const warning = warningOf(decision);
        if (warning !== undefined) res.setHeader(WARNING_HEADER, warning);
        next();
      })
      .catch(next);
  };
}
