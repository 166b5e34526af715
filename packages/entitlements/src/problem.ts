import type { Decision, DecisionReason, UpgradeOffer } from "./claims.js";

/** RFC 9457 problem details for a denied decision (what the middlewares send). */
export interface EntitlementProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly feature: string;
  readonly reason: DecisionReason;
  readonly upgrade?: UpgradeOffer;
  readonly billing_url?: string;
}

export interface ProblemOptions {
  /** Prefix of the problem `type` URI; the reason is appended. Default `"urn:federal-job-advisor:entitlements:"`. */
  problemTypeBase?: string;
}

/** What to send: status, headers and the problem+json body. */
export interface ProblemResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: EntitlementProblem;
}

const TITLES: Readonly<Record<DecisionReason, string>> = {
  included: "Allowed",
  trialing: "Allowed",
  payment_past_due: "Allowed",
  not_in_tier: "Upgrade required",
  trial_expired: "Trial ended",
  paused: "Subscription paused",
  suspended: "Update your payment method",
  canceled: "Subscription canceled",
  no_subscription: "Subscription required",
  unknown_feature: "Feature not available",
  unavailable: "Entitlements unavailable",
};

/**
 * The HTTP answer for a denied decision: 403 with an upgrade prompt or a billing link, or 503
 * with `Retry-After` when entitlements are `unavailable` (a server-side condition, not the user's).
 */
export function toProblem(decision: Decision, feature: string, options: ProblemOptions = {}): ProblemResponse {
  const status = decision.reason === "unavailable" ? 503 : 403;
  const body: { -readonly [K in keyof EntitlementProblem]: EntitlementProblem[K] } = {
    type: `${options.problemTypeBase ?? "urn:federal-job-advisor:entitlements:"}${decision.reason}`,
    title: TITLES[decision.reason],
    status,
    detail: decision.message ?? TITLES[decision.reason],
    feature,
    reason: decision.reason,
  };
  if (decision.upgrade) body.upgrade = decision.upgrade;
  if (decision.billing_url) body.billing_url = decision.billing_url;
  const headers: Record<string, string> = { "content-type": "application/problem+json", "cache-control": "no-store" };
  if (status === 503) headers["retry-after"] = "5";
  return { status, headers, body };
}

/** The 401 both middlewares answer when the request has no user: a problem of the request, not of a decision. */
export function unauthenticatedProblem(feature: string, options: ProblemOptions = {}): { status: 401; headers: Readonly<Record<string, string>>; body: Record<string, unknown> } {
  return {
    status: 401,
    headers: { "content-type": "application/problem+json" },
    body: {
      type: `${options.problemTypeBase ?? "urn:federal-job-advisor:entitlements:"}unauthenticated`,
      title: "Authentication required",
      status: 401,
      detail: "Sign in to use this feature.",
      feature,
    },
  };
}

/** Response header carrying a warning on allowed-but-past-due requests. */
export const WARNING_HEADER = "entitlement-warning";

/** The `Entitlement-Warning` value for a decision, e.g. `payment_past_due; grace_until=1767225600`, or undefined. */
export function warningOf(decision: Decision): string | undefined {
  if (decision.reason !== "payment_past_due") return undefined;
  return decision.grace_until ? `payment_past_due; grace_until=${decision.grace_until}` : "payment_past_due";
}
