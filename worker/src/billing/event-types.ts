/** The families of Stripe event types this endpoint accepts; anything else is not from Stripe. */
const STRIPE_FAMILIES = [
  "customer", "invoice", "invoiceitem", "invoice_payment", "checkout", "payment_intent", "payment_method", "charge",
  "price", "product", "coupon", "promotion_code", "billing_portal", "test_helpers", "subscription_schedule",
  "setup_intent", "mandate", "credit_note", "tax_rate", "plan", "entitlements", "billing",
];
const SHAPE = /^[a-z_]+(\.[a-z_]+){1,3}$/;

export function isStripeEventType(type: string): boolean {
  return SHAPE.test(type) && STRIPE_FAMILIES.includes(type.slice(0, type.indexOf(".")));
}
