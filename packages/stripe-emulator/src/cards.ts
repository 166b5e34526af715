import type { CardDecline } from "./errors.ts";

/**
 * Stripe's test payment methods (https://docs.stripe.com/testing). `pm_card_*` shortcuts (and
 * the matching `tok_*` tokens) create a fresh card payment method; its outcome is decided when
 * it is charged. Known difference: on Stripe some decline cards already fail when attached;
 * here every card attaches so a renewal can be made to fail with any decline code.
 */
export interface TestCard {
  brand: string;
  last4: string;
  funding: string;
  country: string;
  decline: CardDecline | null;
  /**
   * The charge succeeds, then its issuer disputes it (billing/disputes.ts): a chargeback with
   * this reason, or an inquiry (a `warning_*` dispute) when `inquiry`.
   */
  dispute?: { reason: string; inquiry: boolean };
}

const declined = (declineCode: string, message = "Your card was declined."): CardDecline => ({ code: "card_declined", declineCode, message });

const CARDS: Record<string, TestCard> = {
  visa: { brand: "visa", last4: "4242", funding: "credit", country: "US", decline: null },
  visa_debit: { brand: "visa", last4: "5556", funding: "debit", country: "US", decline: null },
  mastercard: { brand: "mastercard", last4: "4444", funding: "credit", country: "US", decline: null },
  amex: { brand: "amex", last4: "8431", funding: "credit", country: "US", decline: null },
  discover: { brand: "discover", last4: "1117", funding: "credit", country: "US", decline: null },
  createDispute: { brand: "visa", last4: "0259", funding: "credit", country: "US", decline: null, dispute: { reason: "fraudulent", inquiry: false } },
  createDisputeProductNotReceived: { brand: "visa", last4: "2685", funding: "credit", country: "US", decline: null, dispute: { reason: "product_not_received", inquiry: false } },
  createDisputeInquiry: { brand: "visa", last4: "1976", funding: "credit", country: "US", decline: null, dispute: { reason: "general", inquiry: true } },
  chargeCustomerFail: { brand: "visa", last4: "0341", funding: "credit", country: "US", decline: declined("generic_decline") },
  chargeDeclined: { brand: "visa", last4: "0002", funding: "credit", country: "US", decline: declined("generic_decline") },
  chargeDeclinedInsufficientFunds: { brand: "visa", last4: "9995", funding: "credit", country: "US", decline: declined("insufficient_funds", "Your card has insufficient funds.") },
  chargeDeclinedLostCard: { brand: "visa", last4: "9987", funding: "credit", country: "US", decline: declined("lost_card") },
  chargeDeclinedStolenCard: { brand: "visa", last4: "9979", funding: "credit", country: "US", decline: declined("stolen_card") },
  chargeDeclinedFraudulent: { brand: "visa", last4: "0019", funding: "credit", country: "US", decline: declined("fraudulent") },
  chargeDeclinedVelocityLimitExceeded: {
    brand: "visa",
    last4: "6975",
    funding: "credit",
    country: "US",
    decline: declined("card_velocity_exceeded", "Your card was declined for making repeated attempts too frequently or exceeding its amount limit."),
  },
  chargeDeclinedExpiredCard: {
    brand: "visa",
    last4: "0069",
    funding: "credit",
    country: "US",
    decline: { code: "expired_card", declineCode: "expired_card", message: "Your card has expired." },
  },
  chargeDeclinedIncorrectCvc: {
    brand: "visa",
    last4: "0127",
    funding: "credit",
    country: "US",
    decline: { code: "incorrect_cvc", declineCode: "incorrect_cvc", message: "Your card's security code is incorrect." },
  },
  chargeDeclinedProcessingError: {
    brand: "visa",
    last4: "0119",
    funding: "credit",
    country: "US",
    decline: { code: "processing_error", declineCode: "processing_error", message: "An error occurred while processing your card. Try again in a little bit." },
  },
};

/** The test card behind `pm_card_<name>` or `tok_<name>`, or undefined for other ids. */
export function testCardForToken(token: string): TestCard | undefined {
  const m = /^(?:pm_card_|tok_)(.+)$/.exec(token);
  if (!m || m[1] === undefined) return undefined;
  return CARDS[m[1]];
}

/** Stripe's test card numbers for the cards whose number a test is likely to type. */
const NUMBERS: Record<string, string> = {
  "4242424242424242": "visa",
  "4000000000000341": "chargeCustomerFail",
  "4000000000000259": "createDispute",
  "4000000000002685": "createDisputeProductNotReceived",
  "4000000000001976": "createDisputeInquiry",
};

/** The `pm_card_*` token of a test card number, or undefined for a number the emulator does not know. */
export function tokenForCardNumber(number: string): string | undefined {
  const name = NUMBERS[number.replace(/\s/g, "")];
  return name === undefined ? undefined : `pm_card_${name}`;
}

export function testCardNames(): string[] {
  return Object.keys(CARDS);
}
