import type Stripe from "stripe";
import type { Core, RequestInfo } from "../core.ts";
import type { CardDecline } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { declineFor, recordChargeAttempt } from "../resources/payment-methods.ts";
import { clone } from "../store.ts";

export interface ChargeResult {
  paymentIntent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  decline: CardDecline | null;
}

/**
 * One payment attempt: a PaymentIntent (reused across an invoice's attempts, as Stripe does)
 * confirmed with the given card, producing a Charge that succeeds or fails with the test
 * card's decline code. Emits payment_intent.* and charge.* events.
 */
export function attemptCharge(
  core: Core,
  args: { amount: number; currency: string; customerId: string | null; paymentMethodId: string; description: string | null; existingIntent: string | null; metadata?: Record<string, string> },
  now: number,
  request: RequestInfo | null,
): ChargeResult {
  let pi = args.existingIntent ? core.state.paymentIntents.get(args.existingIntent) : undefined;
  if (!pi) {
    const id = newId("pi");
    pi = {
      id,
      object: "payment_intent",
      allowed_payment_method_types: null,
      amount: args.amount,
      amount_capturable: 0,
      amount_details: {},
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: "automatic",
      client_secret: `${id}_secret_${randomToken(24)}`,
      confirmation_method: "automatic",
      created: now,
      currency: args.currency,
      customer: args.customerId,
      customer_account: null,
      description: args.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: args.metadata ?? {},
      next_action: null,
      on_behalf_of: null,
      payment_method: args.paymentMethodId,
      payment_method_configuration_details: null,
      payment_method_options: null,
      payment_method_types: ["card"],
      payment_record: null,
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: "requires_confirmation",
      transfer_data: null,
      transfer_group: null,
    };
    core.state.paymentIntents.set(id, pi);
    core.emit({ type: "payment_intent.created", data: { object: pi } }, now, request);
  }
  pi.payment_method = args.paymentMethodId;
  pi.amount = args.amount;
  const pm = core.state.paymentMethods.get(args.paymentMethodId);
  const decline = declineFor(core, args.paymentMethodId, now);
  recordChargeAttempt(core, args.paymentMethodId);
  const charge: Stripe.Charge = {
    id: newId("ch"),
    object: "charge",
    amount: args.amount,
    amount_captured: decline ? 0 : args.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: decline ? null : newId("txn"),
    billing_details: pm ? clone(pm.billing_details) : { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: "EMULATOR",
    captured: decline === null,
    created: now,
    currency: args.currency,
    customer: args.customerId,
    description: args.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: decline
      ? {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: "declined_by_network",
          reason: decline.declineCode ?? decline.code,
          risk_level: "normal",
          seller_message: "The bank did not return any further details with this decline.",
          type: "issuer_declined",
        }
      : {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: "approved_by_network",
          reason: null,
          risk_level: "normal",
          seller_message: "Payment complete.",
          type: "authorized",
        },
    paid: decline === null,
    payment_intent: pi.id,
    payment_method: args.paymentMethodId,
    payment_method_details: {
      type: "card",
      card: {
        amount_authorized: decline ? null : args.amount,
        authorization_code: decline ? null : "123456",
        brand: pm?.card?.brand ?? "visa",
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
        country: pm?.card?.country ?? "US",
        electronic_commerce_indicator: null,
        exp_month: pm?.card?.exp_month ?? 12,
        exp_year: pm?.card?.exp_year ?? 2030,
        funding: pm?.card?.funding ?? "credit",
        installments: null,
        last4: pm?.card?.last4 ?? "4242",
        mandate: null,
        network: pm?.card?.brand ?? "visa",
        network_transaction_id: randomToken(15),
        regulated_status: "unregulated",
        three_d_secure: null,
        transaction_link_id: null,
        wallet: null,
      },
    },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    refunds: { object: "list", data: [], has_more: false, url: "/v1/refunds" },
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: decline ? "failed" : "succeeded",
    transfer_data: null,
    transfer_group: null,
  };
  core.state.charges.set(charge.id, charge);
  pi.latest_charge = charge.id;
  if (decline) {
    pi.status = "requires_payment_method";
    const lastError: Stripe.PaymentIntent.LastPaymentError = {
      charge: charge.id,
      code: decline.code,
      doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, "-")}`,
      message: decline.message,
      type: "card_error",
      payment_method_type: "card",
    };
    if (decline.declineCode !== undefined) lastError.decline_code = decline.declineCode;
    if (pm) lastError.payment_method = clone(pm);
    pi.last_payment_error = lastError;
    core.emit({ type: "charge.failed", data: { object: charge } }, now, request);
    core.emit({ type: "payment_intent.payment_failed", data: { object: pi } }, now, request);
  } else {
    pi.status = "succeeded";
    pi.amount_received = args.amount;
    pi.last_payment_error = null;
    core.emit({ type: "charge.succeeded", data: { object: charge } }, now, request);
    core.emit({ type: "payment_intent.succeeded", data: { object: pi } }, now, request);
  }
  return { paymentIntent: pi, charge, decline };
}
