import type { Evaluation } from "../manager.js";
import { SubjectMismatch } from "../errors.js";
import { unavailable } from "./decide.js";

/**
 * `evaluation` if it is about `userId`. The middlewares take any `evaluate()`, so a checker wired
 * to the wrong user (a cache keyed by feature only, a session mix-up) could hand one user's
 * entitlements to another's request: those claims are dropped and the answer is `unavailable`,
 * never fail-open, since the request's own entitlements are unknown.
 */
export function ownEvaluation(evaluation: Evaluation, userId: string): Evaluation {
  if (evaluation.claims === null || evaluation.claims.sub === userId) return evaluation;
  const error = new SubjectMismatch("the entitlements checked belong to another user");
  return { decision: unavailable(error.code, false), claims: null, error };
}
