import Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import { invalidRequest } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { percentOf } from "../proration.ts";
import { clone } from "../store.ts";
import { taxOn, taxRateFor } from "../tax.ts";
import { disputeIfTestCard } from "./disputes.ts";
import { attemptCharge } from "./payments.ts";
import { afterInvoicePayment } from "./lifecycle.ts";
import { DAY_SECONDS } from "./periods.ts";
import { dueDateFor, invoiceTaxIds } from "./terms.ts";

export interface LineInput {
  amount: number;
  description: string;
  period: { start: number; end: number };
  priceId: string | null;
  quantity: number;
  proration: boolean;
  subscriptionItemId: string | null;
  invoiceItemId: string | null;
  subscriptionId: string | null;
}

export interface NewInvoiceArgs {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  billingReason: Stripe.Invoice.BillingReason;
  periodStart: number;
  periodEnd: number;
  lines: LineInput[];
  now: number;
  automaticTax: boolean;
  discountIds: string[];
  /** Previews only: unsaved discounts (coupons a change would redeem) that `discountIds` name. */
  transientDiscounts?: Stripe.Discount[];
  metadata?: Record<string, string>;
  prorationDate?: number;
  autoAdvance?: boolean;
  currency?: string;
  /** Manual invoices: how they are collected (a subscription's invoices follow the subscription). */
  collectionMethod?: Stripe.Invoice.CollectionMethod;
  /** send_invoice: the due date, else `daysUntilDue` days after creation. */
  dueDate?: number | null;
  daysUntilDue?: number | null;
  /** Manual invoices: custom fields given on create (else the customer's defaults). */
  customFields?: Stripe.Invoice.CustomField[] | null;
}

/** Whether Stripe charges this invoice by itself (send_invoice invoices wait to be paid). */
export function chargesAutomatically(inv: Stripe.Invoice): boolean {
  return inv.collection_method !== "send_invoice";
}

/**
 * Builds an invoice (draft) with its lines, discounts and taxes; `preview` builds the same
 * object without storing it or emitting events (for create_preview).
 */
export function buildInvoice(core: Core, a: NewInvoiceArgs, preview: boolean): Stripe.Invoice {
  const id = preview ? `upcoming_${newId("in")}` : newId("in");
  const currency = a.currency ?? currencyOf(core, a.lines) ?? "usd";
  const sub = a.subscription;
  const collection: Stripe.Invoice.CollectionMethod = sub ? sub.collection_method : (a.collectionMethod ?? "charge_automatically");
  const days = sub ? sub.days_until_due : (a.daysUntilDue ?? null);
  const dueDate = collection !== "send_invoice" ? null : (a.dueDate ?? (days !== null ? dueDateFor(a.now, days) : null));
  // A subscription's invoice_settings.custom_fields win over its customer's defaults; a manual
  // invoice's own custom_fields over the customer's.
  const customFields = (sub ? sub.invoice_settings.custom_fields : a.customFields) ?? a.customer.invoice_settings.custom_fields ?? null;
  const invoice: Stripe.Invoice = {
    id,
    object: "invoice",
    account_country: "US",
    account_name: "Stripe Emulator",
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: preview ? false : (a.autoAdvance ?? true),
    automatic_tax: {
      disabled_reason: null,
      enabled: a.automaticTax,
      liability: a.automaticTax ? { type: "self" } : null,
      provider: a.automaticTax ? "stripe" : null,
      status: a.automaticTax ? "complete" : null,
    },
    automatically_finalizes_at: null,
    billing_reason: a.billingReason,
    collection_method: collection,
    created: a.now,
    currency,
    custom_fields: customFields ? clone(customFields) : null,
    customer: a.customer.id,
    customer_account: null,
    customer_address: a.customer.address ? clone(a.customer.address) : null,
    customer_email: a.customer.email,
    customer_name: a.customer.name ?? null,
    customer_phone: a.customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: a.customer.tax_exempt ?? "none",
    customer_tax_ids: invoiceTaxIds(core, a.customer.id),
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [...a.discountIds],
    due_date: dueDate,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: "list", data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: a.metadata ?? {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: sub
      ? {
          type: "subscription_details",
          quote_details: null,
          subscription_details: { metadata: clone(sub.metadata), subscription: sub.id, ...(a.prorationDate !== undefined ? { subscription_proration_date: a.prorationDate } : {}) },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    payments: { object: "list", data: [], has_more: false, url: `/v1/invoice_payments?invoice=${id}` },
    period_end: a.periodEnd,
    period_start: a.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: "draft",
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: typeof a.customer.test_clock === "string" ? a.customer.test_clock : null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  invoice.lines.data = a.lines.map((l) => lineItem(core, invoice.id, currency, l));
  computeTotals(core, invoice, a.customer, a.transientDiscounts);
  if (!preview) {
    core.state.invoices.set(invoice.id, invoice);
    core.state.invoiceMeta.set(invoice.id, { finalizeAt: null, retryIndex: 0 });
    core.pendingInvoices.add(invoice.id);
    for (const l of a.lines) {
      if (l.invoiceItemId === null) continue;
      const ii = core.state.invoiceItems.get(l.invoiceItemId);
      if (ii) ii.invoice = invoice.id;
    }
  }
  return invoice;
}

function currencyOf(core: Core, lines: LineInput[]): string | undefined {
  for (const l of lines) {
    if (l.priceId) {
      const p = core.state.prices.get(l.priceId);
      if (p) return p.currency;
    }
  }
  return undefined;
}

function lineItem(core: Core, invoiceId: string, currency: string, l: LineInput): Stripe.InvoiceLineItem {
  const price = l.priceId ? core.state.prices.get(l.priceId) : undefined;
  const productId = price ? (typeof price.product === "string" ? price.product : price.product.id) : "";
  const unit = l.quantity > 0 ? Math.trunc(l.amount / l.quantity) : l.amount;
  return {
    id: newId("il"),
    object: "line_item",
    amount: l.amount,
    currency,
    description: l.description,
    discount_amounts: [],
    discountable: !l.proration,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: {},
    parent:
      l.subscriptionItemId !== null && l.invoiceItemId === null
        ? {
            type: "subscription_item_details",
            invoice_item_details: null,
            subscription_item_details: {
              invoice_item: null,
              proration: l.proration,
              proration_details: { credited_items: null },
              subscription: l.subscriptionId,
              subscription_item: l.subscriptionItemId,
            },
          }
        : {
            type: "invoice_item_details",
            subscription_item_details: null,
            invoice_item_details: { invoice_item: l.invoiceItemId ?? "", proration: l.proration, proration_details: { credited_items: null }, subscription: l.subscriptionId },
          },
    period: { start: l.period.start, end: l.period.end },
    pretax_credit_amounts: [],
    pricing: price
      ? { type: "price_details", price_details: { price: price.id, product: productId }, unit_amount_decimal: Stripe.Decimal.from(String(l.proration ? unit : (price.unit_amount ?? 0))) }
      : null,
    quantity: l.quantity,
    quantity_decimal: Stripe.Decimal.from(String(l.quantity)),
    subscription: l.subscriptionId,
    subtotal: l.amount,
    taxes: [],
  };
}

/**
 * Totals: subtotal = Σ lines; coupon discounts apply to discountable (non-proration) lines,
 * each discount to the line's full amount (several discounts add up; they do not compound);
 * tax per line on (amount − its discount) at the customer's jurisdiction rate; total =
 * subtotal − discounts + tax. Every step is integer cents.
 */
export function computeTotals(core: Core, inv: Stripe.Invoice, customer: Stripe.Customer, transientDiscounts: Stripe.Discount[] = []): void {
  const subtotal = inv.lines.data.reduce((acc, l) => acc + l.amount, 0);
  // Totals are recomputed (a preview computes them again for another address): start clean, or
  // a coupon would be counted once per computation.
  for (const l of inv.lines.data) {
    l.discount_amounts = [];
    l.discounts = [];
  }
  const discountTotals = new Map<string, number>();
  for (const ref of inv.discounts) {
    const discountId = typeof ref === "string" ? ref : ref.id;
    const discount = core.state.discounts.get(discountId) ?? transientDiscounts.find((d) => d.id === discountId);
    const couponRef = discount?.source.coupon;
    const coupon = typeof couponRef === "string" ? core.state.coupons.get(couponRef) : (couponRef ?? undefined);
    if (!coupon) continue;
    const eligible = inv.lines.data.filter((l) => l.discountable && l.amount > 0);
    const base = eligible.reduce((acc, l) => acc + l.amount, 0);
    let remainingOff = coupon.amount_off !== null ? Math.min(coupon.amount_off, base) : 0;
    eligible.forEach((l, i) => {
      let off: number;
      if (coupon.percent_off !== null) off = percentOf(l.amount, coupon.percent_off);
      else if (i === eligible.length - 1) off = remainingOff;
      else {
        // amount_off is spread over lines in proportion to their amounts; the last takes the rest.
        off = Math.floor(((coupon.amount_off ?? 0) * l.amount) / Math.max(base, 1));
        off = Math.min(off, remainingOff);
      }
      remainingOff -= off;
      l.discount_amounts = [...(l.discount_amounts ?? []), { amount: off, discount: discountId }];
      l.discounts = [...l.discounts, discountId];
      discountTotals.set(discountId, (discountTotals.get(discountId) ?? 0) + off);
    });
  }
  const discountSum = [...discountTotals.values()].reduce((a, b) => a + b, 0);
  let taxSum = 0;
  const taxByRate = new Map<string, { amount: number; taxable: number }>();
  const decision = inv.automatic_tax.enabled && customer.tax_exempt !== "exempt" ? taxRateFor(core.taxRates, customer.address) : null;
  for (const l of inv.lines.data) {
    const lineDiscount = (l.discount_amounts ?? []).reduce((acc, d) => acc + d.amount, 0);
    const taxable = l.amount - lineDiscount;
    if (decision) {
      const amount = taxOn(taxable, decision.rateBps);
      l.taxes = [{ amount, tax_behavior: "exclusive", tax_rate_details: { tax_rate: decision.taxRateId }, taxability_reason: "standard_rated", taxable_amount: taxable, type: "tax_rate_details" }];
      taxSum += amount;
      const agg = taxByRate.get(decision.taxRateId) ?? { amount: 0, taxable: 0 };
      agg.amount += amount;
      agg.taxable += taxable;
      taxByRate.set(decision.taxRateId, agg);
    } else {
      l.taxes = [];
    }
  }
  inv.subtotal = subtotal;
  inv.subtotal_excluding_tax = subtotal;
  inv.total_discount_amounts = [...discountTotals.entries()].map(([discount, amount]) => ({ amount, discount }));
  inv.total_taxes = [...taxByRate.entries()].map(([rate, t]) => ({
    amount: t.amount,
    tax_behavior: "exclusive",
    tax_rate_details: { tax_rate: rate },
    taxability_reason: "standard_rated",
    taxable_amount: t.taxable,
    type: "tax_rate_details",
  }));
  if (inv.automatic_tax.enabled && !decision && customer.tax_exempt !== "exempt") {
    inv.automatic_tax.status = customer.address?.country ? "complete" : "requires_location_inputs";
  }
  inv.total_excluding_tax = subtotal - discountSum;
  inv.total = subtotal - discountSum + taxSum;
  inv.amount_due = Math.max(0, inv.total);
  inv.amount_remaining = inv.amount_due - inv.amount_paid;
}

function emitInvoice(
  core: Core,
  type:
    | "invoice.created"
    | "invoice.finalized"
    | "invoice.paid"
    | "invoice.payment_succeeded"
    | "invoice.payment_failed"
    | "invoice.voided"
    | "invoice.marked_uncollectible"
    | "invoice.upcoming"
    | "invoice.sent"
    | "invoice.overdue",
  inv: Stripe.Invoice,
  now: number,
  request: RequestInfo | null,
): void {
  core.emit({ type, data: { object: inv } }, now, request);
}

export function emitInvoiceCreated(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  emitInvoice(core, "invoice.created", inv, now, request);
}

/**
 * draft → open: numbers the invoice, applies the customer's credit balance, sets the hosted
 * URL. A zero amount due is paid at once (trial invoices), as on Stripe.
 */
export function finalizeInvoice(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  if (inv.status !== "draft") throw invalidRequest(`This invoice is already finalized, you can't re-finalize a non-draft invoice.`, undefined, "invoice_not_editable");
  const customerId = typeof inv.customer === "string" ? inv.customer : null;
  const customer = customerId ? core.state.customers.get(customerId) : undefined;
  if (customer) {
    computeTotals(core, inv, customer);
    const seq = customer.next_invoice_sequence ?? 1;
    inv.number = `${customer.invoice_prefix ?? "EMU"}-${String(seq).padStart(4, "0")}`;
    customer.next_invoice_sequence = seq + 1;
    inv.starting_balance = customer.balance;
    // Negative balance = credit. Credit pays part of a positive total; a negative total
    // (e.g. a downgrade's proration) becomes more credit.
    if (inv.total < 0) {
      customer.balance += inv.total;
      inv.amount_due = 0;
    } else if (customer.balance < 0) {
      const applied = Math.min(-customer.balance, inv.total);
      customer.balance += applied;
      inv.amount_due = inv.total - applied;
    } else {
      inv.amount_due = inv.total;
    }
    inv.ending_balance = customer.balance;
    inv.amount_remaining = inv.amount_due;
    // "Once the invoice is finalized, this field will no longer be updated" (customer_tax_ids).
    inv.customer_tax_ids = invoiceTaxIds(core, customer.id);
  }
  inv.status = "open";
  inv.status_transitions.finalized_at = now;
  inv.effective_at = now;
  inv.hosted_invoice_url = `${core.baseUrl}/_emulator/invoices/${inv.id}`;
  inv.invoice_pdf = `${core.baseUrl}/_emulator/invoices/${inv.id}/pdf`;
  inv.next_payment_attempt = inv.amount_due > 0 && inv.auto_advance && chargesAutomatically(inv) ? now : null;
  inv.webhooks_delivered_at = now;
  const meta = core.state.invoiceMeta.get(inv.id);
  if (meta) meta.finalizeAt = null;
  emitInvoice(core, "invoice.finalized", inv, now, request);
  if (inv.amount_due === 0) markPaid(core, inv, now, request, null);
}

function markPaid(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null, payment: { pi: Stripe.PaymentIntent; amount: number } | null): void {
  inv.status = "paid";
  inv.amount_paid = payment?.amount ?? 0;
  inv.amount_remaining = 0;
  inv.attempted = true;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = now;
  core.pendingInvoices.delete(inv.id);
  if (payment) {
    const record: Stripe.InvoicePayment = {
      id: newId("inpay"),
      object: "invoice_payment",
      amount_paid: payment.amount,
      amount_requested: payment.amount,
      created: now,
      currency: inv.currency,
      invoice: inv.id,
      is_default: true,
      livemode: false,
      payment: { type: "payment_intent", payment_intent: payment.pi.id },
      status: "paid",
      status_transitions: { canceled_at: null, paid_at: now },
    };
    core.state.invoicePayments.set(record.id, record);
    inv.payments = { object: "list", data: [record], has_more: false, url: `/v1/invoice_payments?invoice=${inv.id}` };
    core.emit({ type: "invoice_payment.paid", data: { object: record } }, now, request);
  }
  emitInvoice(core, "invoice.paid", inv, now, request);
  emitInvoice(core, "invoice.payment_succeeded", inv, now, request);
  afterInvoicePayment(core, inv, true, now, request);
}

export interface PayOutcome {
  paid: boolean;
  paymentIntent: Stripe.PaymentIntent | null;
  decline: { code: string; declineCode?: string; message: string } | null;
}

/**
 * One payment attempt on an open invoice with the given (or default) payment method. Failure
 * bumps attempt_count, records last_payment_error on the PaymentIntent, emits
 * invoice.payment_failed, and lets the subscription go past_due.
 */
export function attemptInvoicePayment(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null, paymentMethodOverride?: string, opts: { manual?: boolean } = {}): PayOutcome {
  const manual = opts.manual ?? false;
  if (inv.status === "draft") finalizeInvoice(core, inv, now, request);
  if (inv.status === "paid") return { paid: true, paymentIntent: null, decline: null };
  if (inv.status !== "open" && inv.status !== "uncollectible") throw invalidRequest(`Invoice is already ${inv.status}`, undefined, "invoice_not_editable");
  const customerId = typeof inv.customer === "string" ? inv.customer : null;
  const customer = customerId ? core.state.customers.get(customerId) : undefined;
  const subId = inv.parent?.subscription_details?.subscription;
  const sub = typeof subId === "string" ? core.state.subscriptions.get(subId) : undefined;
  const pmId = paymentMethodOverride ?? idOrNull(inv.default_payment_method) ?? idOrNull(sub?.default_payment_method) ?? idOrNull(customer?.invoice_settings.default_payment_method);
  const before = clone(inv);
  inv.attempted = true;
  inv.attempt_count += 1;
  if (!pmId) {
    scheduleRetry(core, inv, now, manual, { code: "missing" });
    emitInvoice(core, "invoice.payment_failed", inv, now, request);
    core.emit({ type: "invoice.updated", data: { object: inv, previous_attributes: diff(before, inv) } }, now, request);
    afterInvoicePayment(core, inv, false, now, request);
    return { paid: false, paymentIntent: null, decline: { code: "missing", message: "Cannot charge a customer that has no active card" } };
  }
  const existingPayment = inv.payments?.data[0]?.payment.payment_intent;
  const result = attemptCharge(
    core,
    {
      amount: inv.amount_remaining,
      currency: inv.currency,
      customerId,
      paymentMethodId: pmId,
      description: subId ? "Subscription update" : null,
      existingIntent: typeof existingPayment === "string" ? existingPayment : null,
    },
    now,
    request,
  );
  if (!inv.payments?.data.length) {
    const record: Stripe.InvoicePayment = {
      id: newId("inpay"),
      object: "invoice_payment",
      amount_paid: null,
      amount_requested: inv.amount_remaining,
      created: now,
      currency: inv.currency,
      invoice: inv.id,
      is_default: true,
      livemode: false,
      payment: { type: "payment_intent", payment_intent: result.paymentIntent.id },
      status: "open",
      status_transitions: { canceled_at: null, paid_at: null },
    };
    core.state.invoicePayments.set(record.id, record);
    inv.payments = { object: "list", data: [record], has_more: false, url: `/v1/invoice_payments?invoice=${inv.id}` };
  }
  if (result.decline === null) {
    const record = inv.payments?.data[0];
    const amount = inv.amount_remaining;
    if (record) {
      record.status = "paid";
      record.amount_paid = amount;
      record.status_transitions.paid_at = now;
      core.emit({ type: "invoice_payment.paid", data: { object: record } }, now, request);
    }
    inv.status = "paid";
    inv.amount_paid = amount;
    inv.amount_remaining = 0;
    inv.next_payment_attempt = null;
    inv.status_transitions.paid_at = now;
    core.pendingInvoices.delete(inv.id);
    emitInvoice(core, "invoice.paid", inv, now, request);
    emitInvoice(core, "invoice.payment_succeeded", inv, now, request);
    afterInvoicePayment(core, inv, true, now, request);
    disputeIfTestCard(core, result.charge, now, request);
    return { paid: true, paymentIntent: result.paymentIntent, decline: null };
  }
  scheduleRetry(core, inv, now, manual, result.decline);
  emitInvoice(core, "invoice.payment_failed", inv, now, request);
  core.emit({ type: "invoice.updated", data: { object: inv, previous_attributes: diff(before, inv) } }, now, request);
  afterInvoicePayment(core, inv, false, now, request);
  return { paid: false, paymentIntent: result.paymentIntent, decline: result.decline };
}

function idOrNull(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : v.id;
}

/**
 * Decline codes Stripe never retries automatically ("non-retryable decline codes" in Stripe's
 * Automate payment retries guide): the issuer says the card will not be approved.
 */
const NON_RETRYABLE = new Set(["incorrect_number", "lost_card", "pickup_card", "stolen_card", "revocation_of_authorization", "revocation_of_all_authorizations", "authentication_required"]);

/**
 * Stripe's automatic retries (off by default): after a failed automatic attempt, the next
 * retry is `scheduleDays[k]` days after the invoice's first failure (k = automatic failures
 * before this one); once they are used up `retryIndex` is -1 and the subscription follows
 * `afterLastRetry` (see afterInvoicePayment). As on Stripe, nothing is retried for the first
 * invoice of an incomplete subscription, without a payment method, or after a non-retryable
 * decline. A manual attempt (invoices.pay) leaves a running schedule as it was.
 */
function scheduleRetry(core: Core, inv: Stripe.Invoice, now: number, manual: boolean, decline: { code: string; declineCode?: string } | null): void {
  const retries = core.smartRetriesFor(inv.test_clock);
  const meta = core.state.invoiceMeta.get(inv.id);
  // Stripe never retries an invoice it was not asked to collect (send_invoice): the customer pays it.
  if (!chargesAutomatically(inv)) {
    inv.next_payment_attempt = null;
    return;
  }
  if (manual && meta && meta.retryIndex !== 0) return;
  if (!retries || !meta || meta.retryIndex < 0) {
    inv.next_payment_attempt = null;
    return;
  }
  const code = decline?.declineCode ?? decline?.code;
  if (inv.billing_reason === "subscription_create" || decline === null || decline.code === "missing" || (code !== undefined && NON_RETRYABLE.has(code))) {
    inv.next_payment_attempt = null;
    return;
  }
  meta.firstFailureAt = meta.firstFailureAt ?? now;
  const days = retries.scheduleDays[meta.retryIndex];
  if (days === undefined) {
    inv.next_payment_attempt = null;
    meta.retryIndex = -1;
    return;
  }
  meta.retryIndex += 1;
  inv.next_payment_attempt = meta.firstFailureAt + days * DAY_SECONDS;
}

export function voidInvoice(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  if (inv.status !== "open" && inv.status !== "uncollectible") {
    throw invalidRequest(`You can only pass in open or uncollectible invoices. This invoice is ${inv.status}.`, undefined, "invoice_not_editable");
  }
  inv.status = "void";
  inv.status_transitions.voided_at = now;
  inv.next_payment_attempt = null;
  inv.amount_remaining = 0;
  core.pendingInvoices.delete(inv.id);
  emitInvoice(core, "invoice.voided", inv, now, request);
}

export function markUncollectible(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  if (inv.status !== "open") throw invalidRequest(`You can only mark open invoices as uncollectible. This invoice is ${inv.status}.`, undefined, "invoice_not_editable");
  inv.status = "uncollectible";
  inv.status_transitions.marked_uncollectible_at = now;
  inv.next_payment_attempt = null;
  core.pendingInvoices.delete(inv.id);
  emitInvoice(core, "invoice.marked_uncollectible", inv, now, request);
}

/**
 * `POST /v1/invoices/:id/send`: finalizes a draft and records that the invoice was sent
 * (`invoice.sent`; in test mode Stripe sends no email either). Only send_invoice invoices can
 * be sent by hand.
 */
export function sendInvoice(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  if (inv.collection_method !== "send_invoice") {
    throw invalidRequest("You can only manually send an invoice if its collection method is 'send_invoice'.", undefined, "invoice_not_editable");
  }
  if (inv.status === "void") throw invalidRequest("You can't send a voided invoice.", undefined, "invoice_not_editable");
  if (inv.status === "draft") finalizeInvoice(core, inv, now, request);
  emitInvoice(core, "invoice.sent", inv, now, request);
}

/**
 * `invoices.pay` with `paid_out_of_band`: the customer paid outside Stripe (a bank transfer, a
 * check). The invoice is paid with no charge and no InvoicePayment; `invoice.paid` is the one
 * event (no `invoice.payment_succeeded`: no payment attempt succeeded). A draft is finalized first.
 * What was paid so is the invoice's includable `amount_paid_off_stripe` (server.ts).
 */
export function payOutOfBand(core: Core, inv: Stripe.Invoice, now: number, request: RequestInfo | null): void {
  if (inv.status === "draft") finalizeInvoice(core, inv, now, request);
  if (inv.status === "paid") return;
  const meta = core.state.invoiceMeta.get(inv.id);
  if (meta) meta.paidOffStripe = inv.amount_remaining;
  else core.state.invoiceMeta.set(inv.id, { finalizeAt: null, retryIndex: 0, paidOffStripe: inv.amount_remaining });
  inv.status = "paid";
  inv.amount_paid = 0;
  inv.amount_remaining = 0;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = now;
  core.pendingInvoices.delete(inv.id);
  emitInvoice(core, "invoice.paid", inv, now, request);
  afterInvoicePayment(core, inv, true, now, request);
}

/** Emits `invoice.overdue` for an unpaid send_invoice invoice whose due date has passed. */
export function emitInvoiceOverdue(core: Core, inv: Stripe.Invoice, at: number): void {
  emitInvoice(core, "invoice.overdue", inv, at, null);
}

export function hostedInvoiceToken(): string {
  return randomToken(32);
}
