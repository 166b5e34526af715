/**
 * The token contract shared with the worker (which signs) and the SDK (which verifies).
 *
 * JWS compact, protected header `{ alg: "EdDSA", kid, typ: "JWT" }`, Ed25519 keys published at
 * `${baseUrl}/.well-known/jwks.json`.
 */

/** Tier names are data: `"local"`, `"mobile"` today, `"enterprise"` later. */
export type Tier = "local" | "mobile" | (string & {});

export type EntitlementStatus =
  | "trialing"
  | "active"
  | "past_due"
  /** Payment collection paused at the user's request; the worker's policy says whether `features` stay. */
  | "paused"
  | "suspended"
  | "canceled"
  | "trial_expired"
  | "none";

/** How often the price bills: the worker's `billing_cycle`, on the wire and in its catalog (`two_year`, `three_year`: prepaid, one charge for the period). */
export type BillingCycle = "monthly" | "annual" | "two_year" | "three_year";

export interface Price {
  /** Integer minor units (cents). */
  readonly amount: number;
  /** ISO 4217, e.g. `"usd"`. */
  readonly currency: string;
  readonly billing_cycle: BillingCycle;
}

/** The cheapest tier that unlocks a feature, and where to buy it. */
export interface UpgradeOffer {
  readonly tier: Tier;
  readonly price: Price;
  readonly url: string;
}

/** The JWT payload the worker signs. */
export interface EntitlementClaims {
  readonly iss: string;
  readonly aud: string | readonly string[];
  /** The user id. */
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
  readonly jti?: string;
  readonly tier: Tier | null;
  readonly status: EntitlementStatus;
  /** Feature keys this user may use now. */
  readonly features: readonly string[];
  /** Numeric limits, e.g. `{ search_radius_miles: 50 }`; `null` = unlimited. */
  readonly limits: Readonly<Record<string, number | null>>;
  /** Unix seconds. */
  readonly trial_end?: number | null;
  /** For `past_due`: when access would be suspended, unix seconds. */
  readonly grace_until?: number | null;
  /** For each feature not in `features`, the cheapest tier that unlocks it. */
  readonly upgrade: Readonly<Record<string, UpgradeOffer>>;
  /** Where the user updates the payment method / manages billing. */
  readonly billing_url: string;
  /** Set when the access is a seat an organization gave the user (tier `agency`): the organization's id. */
  readonly org_id?: string | null;
}

/** Why a decision was taken. */
export type DecisionReason =
  /** allowed: the feature is in the user's paid tier. */
  | "included"
  /** allowed: the feature is in the tier being trialed. */
  | "trialing"
  /** allowed, with a warning: the last payment failed; access continues until `grace_until`. */
  | "payment_past_due"
  /** denied: a higher tier unlocks it (see `upgrade`). */
  | "not_in_tier"
  /** denied: the trial ended without a subscription (see `upgrade`). */
  | "trial_expired"
  /** denied: the subscription is paused (see `billing_url` to resume it). */
  | "paused"
  /** denied: access suspended for non-payment (see `billing_url`). */
  | "suspended"
  /** denied: the subscription was canceled (see `upgrade`). */
  | "canceled"
  /** denied: the user never subscribed (see `upgrade`). */
  | "no_subscription"
  /** denied: no tier unlocks this feature key. */
  | "unknown_feature"
  /** denied (unless listed in `failOpen`): no valid token and the worker is unreachable. */
  | "unavailable";

/** The answer to "may this user use this feature?". Decisions are frozen; do not mutate. */
export interface Decision {
  readonly allowed: boolean;
  readonly reason: DecisionReason;
  /** A sentence that can be shown to the user (English). */
  readonly message?: string;
  /** The upgrade / subscribe prompt, when buying something would unlock the feature. */
  readonly upgrade?: UpgradeOffer;
  /** Where to update the payment method or resume (`suspended`, `payment_past_due`, `paused`). */
  readonly billing_url?: string;
  /** `payment_past_due`: unix seconds when access will be suspended. */
  readonly grace_until?: number | null;
  /** `trialing`: unix seconds when the trial ends. */
  readonly trial_end?: number | null;
  /** `unavailable`: the error code that made the decision impossible. */
  readonly error?: string;
  /**
   * Unix seconds: when the data behind this decision was last known to be current. For claims
   * alone (`can(claims, …)`) it is the token's `iat`. From the token manager (`check`,
   * `evaluate`, the middlewares) it is the later of `iat` and the last poll of the changes feed
   * that read up to the feed's head after the token was fetched (a poll that named the user
   * drops the token instead). `null` for `unavailable` (no data). `now - as_of` is how stale the
   * answer can be: about the poll interval while the feed is reachable.
   */
  readonly as_of: number | null;
}
