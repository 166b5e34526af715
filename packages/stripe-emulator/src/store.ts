import type Stripe from "stripe";

/**
 * All emulator state, in memory. Objects are kept in their unexpanded wire form (foreign keys
 * as id strings) exactly as `Stripe.*` types describe them, so a response is a clone plus the
 * requested expansions. Maps keep insertion order, which is creation order: lists walk them
 * backwards to return newest first, as Stripe does.
 */
export interface SubscriptionMeta {
  trialWillEndSent: boolean;
  /** Test token of the card used, kept to decide payment outcomes without re-reading PMs. */
  canceledBy?: "period_end" | "cancel_at" | "retries" | "api";
}

export interface InvoiceMeta {
  /** When a draft subscription invoice auto-finalizes (Stripe waits about an hour). */
  finalizeAt: number | null;
  /**
   * Smart retries: automatic attempts that failed and got a retry scheduled (the index of the
   * next entry of `scheduleDays`), or -1 once the schedule is used up.
   */
  retryIndex: number;
  /** The first failed automatic attempt: retries are counted in days from it. */
  firstFailureAt?: number;
  /** send_invoice: `invoice.overdue` was emitted (once, when the due date passed unpaid). */
  overdueSent?: boolean;
  /** The amount marked paid outside Stripe: the invoice's includable `amount_paid_off_stripe` (server.ts). */
  paidOffStripe?: number;
}

/**
 * Emulator-only: when a declining test payment method starts to succeed
 * (`POST /_emulator/payment_methods/:id/recover`). It declines with its card's usual code until
 * `attempts` reaches `afterAttempts` or the attempt's time reaches `at`, whichever comes first.
 */
export interface PaymentMethodRecovery {
  /** Charge attempts after which it succeeds (null = no attempt rule). */
  afterAttempts: number | null;
  /** Unix seconds (the customer's test clock time when on a clock) from which it succeeds. */
  at: number | null;
  /** Charge attempts made with this payment method so far, the ones before the control too. */
  attempts: number;
}

export interface WebhookEndpointRecord {
  endpoint: Stripe.WebhookEndpoint;
  secret: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  status: number;
  body: string;
  createdMs: number;
}

export interface State {
  customers: Map<string, Stripe.Customer>;
  deletedCustomers: Set<string>;
  products: Map<string, Stripe.Product>;
  prices: Map<string, Stripe.Price>;
  coupons: Map<string, Stripe.Coupon>;
  promotionCodes: Map<string, Stripe.PromotionCode>;
  paymentMethods: Map<string, Stripe.PaymentMethod>;
  /** pm id → the Stripe test token it was created from (decides charge outcomes). */
  paymentMethodTokens: Map<string, string>;
  /** pm id → its recovery rule, for declining test cards set to recover. */
  paymentMethodRecovery: Map<string, PaymentMethodRecovery>;
  checkoutSessions: Map<string, Stripe.Checkout.Session>;
  checkoutLineItems: Map<string, Stripe.LineItem[]>;
  subscriptions: Map<string, Stripe.Subscription>;
  subscriptionMeta: Map<string, SubscriptionMeta>;
  subscriptionSchedules: Map<string, Stripe.SubscriptionSchedule>;
  invoices: Map<string, Stripe.Invoice>;
  invoiceMeta: Map<string, InvoiceMeta>;
  invoiceItems: Map<string, Stripe.InvoiceItem>;
  invoicePayments: Map<string, Stripe.InvoicePayment>;
  paymentIntents: Map<string, Stripe.PaymentIntent>;
  charges: Map<string, Stripe.Charge>;
  refunds: Map<string, Stripe.Refund>;
  creditNotes: Map<string, Stripe.CreditNote>;
  /** Disputes of charges (billing/disputes.ts), in creation order. */
  disputes: Map<string, Stripe.Dispute>;
  /** Radar early fraud warnings, raised by `POST /_emulator/charges/:charge/early_fraud_warning`. */
  earlyFraudWarnings: Map<string, Stripe.Radar.EarlyFraudWarning>;
  discounts: Map<string, Stripe.Discount>;
  /** Customer tax IDs (`customers.createTaxId`, `tax_id_data`), in creation order. */
  taxIds: Map<string, Stripe.TaxId>;
  events: Map<string, Stripe.Event>;
  webhookEndpoints: Map<string, WebhookEndpointRecord>;
  testClocks: Map<string, Stripe.TestHelpers.TestClock>;
  portalSessions: Map<string, Stripe.BillingPortal.Session>;
  /** Billing portal configurations; the account's default one is made on first use (portal-configurations.ts). */
  portalConfigurations: Map<string, Stripe.BillingPortal.Configuration>;
  /** Stripe Tax settings; null until first read, as a new account's are (`status: "pending"`). */
  taxSettings: Stripe.Tax.Settings | null;
  idempotency: Map<string, IdempotencyRecord>;
  invoiceNumberSeq: number;
}

export function emptyState(): State {
  return {
    customers: new Map(),
    deletedCustomers: new Set(),
    products: new Map(),
    prices: new Map(),
    coupons: new Map(),
    promotionCodes: new Map(),
    paymentMethods: new Map(),
    paymentMethodTokens: new Map(),
    paymentMethodRecovery: new Map(),
    checkoutSessions: new Map(),
    checkoutLineItems: new Map(),
    subscriptions: new Map(),
    subscriptionMeta: new Map(),
    subscriptionSchedules: new Map(),
    invoices: new Map(),
    invoiceMeta: new Map(),
    invoiceItems: new Map(),
    invoicePayments: new Map(),
    paymentIntents: new Map(),
    charges: new Map(),
    refunds: new Map(),
    creditNotes: new Map(),
    disputes: new Map(),
    earlyFraudWarnings: new Map(),
    discounts: new Map(),
    taxIds: new Map(),
    events: new Map(),
    webhookEndpoints: new Map(),
    testClocks: new Map(),
    portalSessions: new Map(),
    portalConfigurations: new Map(),
    taxSettings: null,
    idempotency: new Map(),
    invoiceNumberSeq: 0,
  };
}

/** Finds any stored object by id, for `expand[]` (which only ever holds an id string). */
export function lookupById(state: State, id: string): object | undefined {
  if (id.startsWith("sub_sched_")) return state.subscriptionSchedules.get(id);
  const prefix = id.slice(0, id.indexOf("_") + 1);
  switch (prefix) {
    case "cus_":
      return state.customers.get(id) ?? (state.deletedCustomers.has(id) ? { id, object: "customer", deleted: true } : undefined);
    case "prod_":
      return state.products.get(id);
    case "price_":
      return state.prices.get(id);
    case "promo_":
      return state.promotionCodes.get(id);
    case "pm_":
      return state.paymentMethods.get(id);
    case "cs_":
      return state.checkoutSessions.get(id);
    case "sub_":
      return state.subscriptions.get(id);
    case "in_":
      return state.invoices.get(id);
    case "ii_":
      return state.invoiceItems.get(id);
    case "inpay_":
      return state.invoicePayments.get(id);
    case "pi_":
      return state.paymentIntents.get(id);
    case "ch_":
      return state.charges.get(id);
    case "re_":
      return state.refunds.get(id);
    case "cn_":
      return state.creditNotes.get(id);
    case "dp_":
      return state.disputes.get(id);
    case "issfr_":
      return state.earlyFraudWarnings.get(id);
    case "di_":
      return state.discounts.get(id);
    case "txi_":
      return state.taxIds.get(id);
    case "clock_":
      return state.testClocks.get(id);
    case "evt_":
      return state.events.get(id);
    case "bpc_":
      return state.portalConfigurations.get(id);
    default:
      return state.coupons.get(id);
  }
}

// Snapshot: Maps and Sets become arrays of entries. The file is the emulator's own output, so
// restoring trusts its shape.
export function serializeState(state: State): string {
  return JSON.stringify(state, (_key, value: unknown) => {
    if (value instanceof Map) return { __map: [...value.entries()] };
    if (value instanceof Set) return { __set: [...value.values()] };
    return value;
  });
}

export function deserializeState(text: string): State {
  const parsed: State = JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === "object" && value !== null && "__map" in value && Array.isArray(value.__map)) return new Map(value.__map);
    if (typeof value === "object" && value !== null && "__set" in value && Array.isArray(value.__set)) return new Set(value.__set);
    return value;
  });
  return { ...emptyState(), ...parsed };
}

/** A deep copy through JSON, which is also what the wire carries (Decimal → string). */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}
