/**
 * The billing worker's API as this app uses it, with its `service` key. Every call is made on the
 * server; the key goes in the Authorization header to the worker's URL and nowhere else.
 *
 * Types restate the worker's documented responses (GET /openapi.json): a customer app does not
 * import the worker's sources. Instants are RFC 3339 strings (`Instant`).
 */

/** The worker's `billing_cycle` values; `two_year` and `three_year` are prepaid (one charge for the period). */
export const BILLING_CYCLES = ["monthly", "annual", "two_year", "three_year"] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];
export const isBillingCycle = (v: unknown): v is BillingCycle => (BILLING_CYCLES as readonly unknown[]).includes(v);

/** An instant as the worker writes it: RFC 3339 in UTC, e.g. `2026-12-07T02:37:05.000Z`. */
export type Instant = string;

export interface SubscriptionView {
  user_id: string;
  subscription_id: string;
  tier: string | null;
  billing_cycle: BillingCycle | null;
  status: string;
  trial_end: Instant | null;
  current_period_start: Instant | null;
  current_period_end: Instant | null;
  cancel_at_period_end: boolean;
  cancel_at: Instant | null;
  paused: boolean;
  /** Access is suspended over an unpaid invoice: paying `unpaid_invoice` restores it. */
  suspended: boolean;
  /** The open invoice of a past-due subscription and Stripe's page to pay it; null when nothing is due. */
  unpaid_invoice: { invoice_id: string; amount_due: number; currency: string; hosted_invoice_url: string | null } | null;
  pending_change: { tier: string | null; billing_cycle: BillingCycle | null; effective_at: Instant } | null;
  discount: { coupon_id: string; percent_off: number | null; amount_off: number | null; ends_at: Instant | null } | null;
  next_invoice: { amount_due: number; tax: number; currency: string; date: Instant | null } | null;
}

export interface InvoiceView {
  id: string;
  number: string | null;
  status: string;
  amount_due: number;
  amount_paid: number;
  /** Credited by credit notes after payment: refunds and balance credits. */
  amount_credited: number;
  subtotal: number;
  tax: number;
  total: number;
  currency: string;
  period_start: Instant | null;
  period_end: Instant | null;
  hosted_invoice_url: string | null;
  lines: { description: string | null; amount: number; proration: boolean }[];
}

/** A refund of a paid invoice, made through the billing API or in the Stripe dashboard. */
export interface RefundView {
  id: string;
  invoice_id: string | null;
  amount: number;
  currency: string;
  credit_note_id: string | null;
  status: string;
  reason: "requested_by_customer" | "duplicate" | "fraudulent" | "service_issue" | null;
  created_at: Instant;
}

export interface ChangePreview {
  effective: "now" | "period_end";
  amount_due_now: number;
  lines: { description: string; amount: number }[];
  next_invoice_amount: number;
  currency: string;
  proration_date: Instant;
}

export interface RetentionOffer {
  id: string;
  kind: "downgrade" | "discount";
  description: string;
  to_tier?: string;
  percent_off?: number;
  duration_in_months?: number;
  amount?: number;
  currency: string;
}

export interface CatalogTier {
  key: string;
  name: string;
  rank: number;
  trial_days: number;
  prices: { billing_cycle: BillingCycle; unit: { amount: number; currency: string } }[];
  features: string[];
  limits: Record<string, number | null>;
}

export type CancelResult = { canceled: false; offer: RetentionOffer } | { canceled: true; cancel_at: Instant | null };

export const CANCELLATION_REASONS = ["too_expensive", "missing_features", "switched_service", "unused", "customer_service", "too_complex", "low_quality", "other"] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

/** An answer of the worker that is not a success, as a person can read it. */
export class BillingError extends Error {
  override name = "BillingError";
  constructor(
    /** The worker's HTTP status, or 502 when it could not be reached or answered garbage. */
    readonly status: number,
    /** The problem's short title. */
    readonly title: string,
    /** A sentence for the user (the problem's `detail`). */
    readonly detail: string,
    /** The problem's `type` code, e.g. `conflict`, `not_found`, `amount-changed`. */
    readonly code: string,
    /** The whole problem document (e.g. the fresh `preview` of an `amount-changed`). */
    readonly problem: Record<string, unknown> = {},
  ) {
    super(`${title}: ${detail}`);
  }
}

const TIMEOUT_MS = 15_000;
/** A write whose answer was lost is sent at most this many times in all, with the same key. */
const WRITE_ATTEMPTS = 3;
const RETRY_DELAY_MS = 250;

export interface BillingClient {
  catalog(): Promise<{ tiers: CatalogTier[] }>;
  subscription(userId: string): Promise<SubscriptionView | null>;
  invoices(userId: string, limit?: number): Promise<{ data: InvoiceView[]; has_more: boolean }>;
  refunds(userId: string, limit?: number): Promise<{ data: RefundView[]; has_more: boolean }>;
  checkout(input: {
    userId: string;
    email: string;
    tier: string;
    billingCycle?: BillingCycle;
    successUrl: string;
    cancelUrl: string;
  }): Promise<{ session_id: string; url: string; trial_days: number }>;
  portal(userId: string, returnUrl: string): Promise<{ url: string }>;
  previewChange(userId: string, tier: string, billingCycle?: BillingCycle): Promise<ChangePreview>;
  change(userId: string, tier: string, billingCycle: BillingCycle | undefined, expectedAmountDueNow: number): Promise<SubscriptionView>;
  cancel(userId: string, reason: CancellationReason, skipOffer: boolean): Promise<CancelResult>;
  acceptOffer(userId: string, offerId: string): Promise<SubscriptionView>;
  reactivate(userId: string): Promise<SubscriptionView>;
  resume(userId: string): Promise<SubscriptionView>;
}

export function billingClient(opts: { baseUrl: string; apiKey: string; fetch?: typeof fetch | undefined }): BillingClient {
  const doFetch = opts.fetch ?? globalThis.fetch;

  /**
   * `idempotent` writes carry an Idempotency-Key made once per call, so when the answer is lost
   * (a timeout, a dropped connection, a 5xx) the call is sent again with the same key and the
   * worker answers as it did the first time instead of acting twice.
   */
  async function call<T>(method: "GET" | "POST", path: string, body?: unknown, idempotent = false): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.apiKey}`, accept: "application/json, application/problem+json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotent) headers["idempotency-key"] = crypto.randomUUID();
    const attempts = idempotent ? WRITE_ATTEMPTS : 1;
    let res: Response | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await doFetch(`${opts.baseUrl}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }), signal: AbortSignal.timeout(TIMEOUT_MS) });
      } catch {
        res = undefined;
      }
      // A 409 idempotency-key-in-use: the first send is still running; its answer comes next time.
      const again = res === undefined || res.status >= 500 || (res.status === 409 && (await res.clone().text()).includes("idempotency-key-in-use"));
      if (!again || attempt >= attempts) break;
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS * attempt));
    }
    if (!res) throw new BillingError(502, "Billing unavailable", "The billing service could not be reached. Try again in a moment.", "unreachable");
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = undefined;
    }
    if (res.ok) {
      if (json === undefined || json === null) throw new BillingError(502, "Billing unavailable", "The billing service gave an answer this page cannot read. Try again in a moment.", "bad_answer");
      return json as T;
    }
    const problem = json && typeof json === "object" ? (json as Record<string, unknown>) : {};
    const title = typeof problem.title === "string" ? problem.title : `Billing error ${res.status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : "The billing service could not do this. Try again in a moment.";
    const type = typeof problem.type === "string" ? problem.type : "";
    const code = type.slice(type.lastIndexOf("/") + 1) || `http_${res.status}`;
    throw new BillingError(res.status, title, detail, code, problem);
  }

  const user = (userId: string) => encodeURIComponent(userId);

  return {
    catalog: () => call("GET", "/v1/catalog"),
    async subscription(userId) {
      try {
        return await call<SubscriptionView>("GET", `/v1/subscriptions/${user(userId)}`);
      } catch (e) {
        if (e instanceof BillingError && e.status === 404) return null;
        throw e;
      }
    },
    invoices: (userId, limit = 10) => call("GET", `/v1/invoices?user_id=${user(userId)}&limit=${limit}`),
    refunds: (userId, limit = 10) => call("GET", `/v1/refunds?user_id=${user(userId)}&limit=${limit}`),
    checkout: (i) =>
      call(
        "POST",
        "/v1/checkout",
        {
          user_id: i.userId,
          email: i.email,
          tier: i.tier,
          ...(i.billingCycle && { billing_cycle: i.billingCycle }),
          success_url: i.successUrl,
          cancel_url: i.cancelUrl,
        },
        true,
      ),
    portal: (userId, returnUrl) => call("POST", "/v1/portal", { user_id: userId, return_url: returnUrl }),
    previewChange: (userId, tier, billingCycle) => call("POST", `/v1/subscriptions/${user(userId)}/change/preview`, { tier, ...(billingCycle && { billing_cycle: billingCycle }) }),
    change: (userId, tier, billingCycle, expected) =>
      call("POST", `/v1/subscriptions/${user(userId)}/change`, { tier, ...(billingCycle && { billing_cycle: billingCycle }), expected_amount_due_now: expected }, true),
    cancel: (userId, reason, skipOffer) => call("POST", `/v1/subscriptions/${user(userId)}/cancel`, { reason, ...(skipOffer && { skip_offer: true }) }, true),
    acceptOffer: (userId, offerId) => call("POST", `/v1/subscriptions/${user(userId)}/offer/accept`, { offer_id: offerId }, true),
    reactivate: (userId) => call("POST", `/v1/subscriptions/${user(userId)}/reactivate`, undefined, true),
    resume: (userId) => call("POST", `/v1/subscriptions/${user(userId)}/resume`, undefined, true),
  };
}
