/**
 * Hono middleware. `hono` is an optional peer dependency: this module only imports its types.
 *
 * ```ts
 * import { requireFeature } from "@federal-job-advisor/entitlements/hono";
 * app.get("/jobs/nationwide", requireFeature(entitlements, "nationwide_job_search", { userId: (c) => c.get("userId") }), handler);
 * ```
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Decision, EntitlementClaims } from "./claims.js";
import type { TokenManager } from "./manager.js";
import { ownEvaluation } from "./internal/own-evaluation.js";
import { toProblem, unauthenticatedProblem, warningOf, WARNING_HEADER, type ProblemOptions } from "./problem.js";

/** What the middleware stores on the context: `c.get("entitlement")`, `c.get("entitlementClaims")`. */
export type EntitlementVariables = {
  entitlement: Decision;
  entitlementClaims: EntitlementClaims | null;
};

export interface RequireFeatureOptions<C = Context> extends ProblemOptions {
  /** The authenticated user's id; return undefined/null/"" when unauthenticated (→ 401). */
  userId: (c: C) => string | undefined | null | Promise<string | undefined | null>;
}

type Checker<F extends string> = Pick<TokenManager<F>, "evaluate">;

function problemResponse(status: number, headers: Record<string, string>, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * Lets the request through when the user may use `feature`; answers 403/401/503 problem+json
 * otherwise. Claims that `evaluate` returns for another user than `userId` are refused (503).
 */
export function requireFeature<F extends string = string>(
  entitlements: Checker<F>,
  // NoInfer: F comes from `entitlements` alone, so a key outside its feature union is an error.
  feature: NoInfer<F>,
  options: RequireFeatureOptions,
): MiddlewareHandler<{ Variables: EntitlementVariables }> {
  return async (c, next) => {
    const userId = await options.userId(c as unknown as Context);
    if (!userId) {
      const p = unauthenticatedProblem(feature, options);
      return problemResponse(p.status, { ...p.headers }, p.body);
    }
    const { decision, claims } = ownEvaluation(await entitlements.evaluate(userId, feature), userId);
    c.set("entitlement", decision);
    c.set("entitlementClaims", claims);
    if (!decision.allowed) {
      const p = toProblem(decision, feature, options);
      return problemResponse(p.status, { ...p.headers }, p.body);
    }
    await next();
    const warning = warningOf(decision);
    if (warning !== undefined) c.header(WARNING_HEADER, warning);
  };
}
