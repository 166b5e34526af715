import { Router } from "./router.ts";
import * as checkout from "./resources/checkout.ts";
import * as coupons from "./resources/coupons.ts";
import * as creditNotes from "./resources/credit-notes.ts";
import * as customers from "./resources/customers.ts";
import * as disputes from "./resources/disputes.ts";
import * as efw from "./resources/early-fraud-warnings.ts";
import * as events from "./resources/events.ts";
import * as invoiceItems from "./resources/invoice-items.ts";
import * as invoices from "./resources/invoices.ts";
import * as payments from "./resources/payments.ts";
import * as pms from "./resources/payment-methods.ts";
import * as portal from "./resources/portal.ts";
import * as portalConfigs from "./resources/portal-configurations.ts";
import * as prices from "./resources/prices.ts";
import * as products from "./resources/products.ts";
import * as refunds from "./resources/refunds.ts";
import * as schedules from "./resources/subscription-schedules.ts";
import * as subs from "./resources/subscriptions.ts";
import * as taxSettings from "./resources/tax-settings.ts";
import * as clocks from "./resources/test-clocks.ts";
import * as webhooks from "./resources/webhook-endpoints.ts";

/** The Stripe v1 endpoints the emulator implements (see README for the list). */
export function stripeRoutes(): Router {
  return new Router()
    .post("/v1/customers", customers.createCustomer)
    .get("/v1/customers/search", customers.searchCustomers)
    .get("/v1/customers", customers.listCustomers)
    .get("/v1/customers/:id", customers.retrieveCustomer)
    .post("/v1/customers/:id", customers.updateCustomer)
    .del("/v1/customers/:id", customers.deleteCustomer)
    .get("/v1/customers/:customer/payment_methods", pms.listPaymentMethods)
    .post("/v1/customers/:id/tax_ids", customers.createTaxIdRoute)
    .get("/v1/customers/:id/tax_ids", customers.listTaxIds)
    .get("/v1/customers/:customer/tax_ids/:id", customers.retrieveTaxId)
    .del("/v1/customers/:customer/tax_ids/:id", customers.deleteTaxId)
    .post("/v1/products", products.createProduct)
    .get("/v1/products", products.listProducts)
    .get("/v1/products/:id", products.retrieveProduct)
    .post("/v1/products/:id", products.updateProduct)
    .del("/v1/products/:id", products.deleteProduct)
    .post("/v1/prices", prices.createPrice)
    .get("/v1/prices", prices.listPrices)
    .get("/v1/prices/:id", prices.retrievePrice)
    .post("/v1/prices/:id", prices.updatePrice)
    .post("/v1/coupons", coupons.createCoupon)
    .get("/v1/coupons", coupons.listCoupons)
    .get("/v1/coupons/:id", coupons.retrieveCoupon)
    .post("/v1/coupons/:id", coupons.updateCoupon)
    .del("/v1/coupons/:id", coupons.deleteCoupon)
    .post("/v1/promotion_codes", coupons.createPromotionCode)
    .get("/v1/promotion_codes", coupons.listPromotionCodes)
    .get("/v1/promotion_codes/:id", coupons.retrievePromotionCode)
    .post("/v1/promotion_codes/:id", coupons.updatePromotionCode)
    .post("/v1/payment_methods", pms.createPaymentMethod)
    .get("/v1/payment_methods", pms.listPaymentMethods)
    .get("/v1/payment_methods/:id", pms.retrievePaymentMethod)
    .post("/v1/payment_methods/:id", pms.updatePaymentMethod)
    .post("/v1/payment_methods/:id/attach", pms.attachPaymentMethodRoute)
    .post("/v1/payment_methods/:id/detach", pms.detachPaymentMethod)
    .post("/v1/subscriptions", subs.createSubscriptionRoute)
    .get("/v1/subscriptions", subs.listSubscriptions)
    .get("/v1/subscriptions/:id", subs.retrieveSubscription)
    .post("/v1/subscriptions/:id", subs.updateSubscription)
    .del("/v1/subscriptions/:id", subs.cancelSubscriptionRoute)
    .post("/v1/subscriptions/:id/resume", subs.resumeSubscription)
    .del("/v1/subscriptions/:id/discount", subs.deleteSubscriptionDiscount)
    .get("/v1/subscription_items", subs.listSubscriptionItems)
    .post("/v1/subscription_schedules", schedules.createSchedule)
    .get("/v1/subscription_schedules", schedules.listSchedules)
    .get("/v1/subscription_schedules/:id", schedules.retrieveSchedule)
    .post("/v1/subscription_schedules/:id", schedules.updateSchedule)
    .post("/v1/subscription_schedules/:id/cancel", schedules.cancelSchedule)
    .post("/v1/subscription_schedules/:id/release", schedules.releaseSchedule)
    .post("/v1/invoices/create_preview", invoices.createPreview)
    .post("/v1/invoices", invoices.createInvoiceRoute)
    .get("/v1/invoices", invoices.listInvoices)
    .get("/v1/invoices/:id", invoices.retrieveInvoice)
    .post("/v1/invoices/:id", invoices.updateInvoice)
    .del("/v1/invoices/:id", invoices.deleteInvoice)
    .get("/v1/invoices/:id/lines", invoices.listInvoiceLines)
    .post("/v1/invoices/:id/finalize", invoices.finalizeInvoiceRoute)
    .post("/v1/invoices/:id/pay", invoices.payInvoiceRoute)
    .post("/v1/invoices/:id/send", invoices.sendInvoiceRoute)
    .post("/v1/invoices/:id/void", invoices.voidInvoiceRoute)
    .post("/v1/invoices/:id/mark_uncollectible", invoices.markUncollectibleRoute)
    .post("/v1/invoiceitems", invoiceItems.createInvoiceItem)
    .get("/v1/invoiceitems", invoiceItems.listInvoiceItems)
    .get("/v1/invoiceitems/:id", invoiceItems.retrieveInvoiceItem)
    .del("/v1/invoiceitems/:id", invoiceItems.deleteInvoiceItem)
    .get("/v1/invoice_payments", payments.listInvoicePayments)
    .get("/v1/invoice_payments/:id", payments.retrieveInvoicePayment)
    .get("/v1/payment_intents", payments.listPaymentIntents)
    .get("/v1/payment_intents/:id", payments.retrievePaymentIntent)
    .get("/v1/charges", payments.listCharges)
    .get("/v1/charges/:id", payments.retrieveCharge)
    .get("/v1/radar/early_fraud_warnings", efw.listEarlyFraudWarnings)
    .get("/v1/radar/early_fraud_warnings/:id", efw.retrieveEarlyFraudWarning)
    .post("/v1/refunds", refunds.createRefund)
    .get("/v1/refunds", refunds.listRefunds)
    .get("/v1/refunds/:id", refunds.retrieveRefund)
    .post("/v1/refunds/:id", refunds.updateRefund)
    .get("/v1/disputes", disputes.listDisputes)
    .get("/v1/disputes/:id", disputes.retrieveDispute)
    .post("/v1/disputes/:id", disputes.updateDisputeRoute)
    .post("/v1/disputes/:id/close", disputes.closeDisputeRoute)
    .post("/v1/credit_notes", creditNotes.createCreditNote)
    .get("/v1/credit_notes/preview", creditNotes.previewCreditNote)
    .get("/v1/credit_notes", creditNotes.listCreditNotes)
    .get("/v1/credit_notes/:id", creditNotes.retrieveCreditNote)
    .get("/v1/credit_notes/:id/lines", creditNotes.listCreditNoteLines)
    .post("/v1/checkout/sessions", checkout.createCheckoutSession)
    .get("/v1/checkout/sessions", checkout.listCheckoutSessions)
    .get("/v1/checkout/sessions/:id", checkout.retrieveCheckoutSession)
    .get("/v1/checkout/sessions/:id/line_items", checkout.listCheckoutLineItems)
    .post("/v1/checkout/sessions/:id/expire", checkout.expireCheckoutSession)
    .post("/v1/test_helpers/checkout/sessions/:id/complete", checkout.completeCheckoutRoute)
    .post("/v1/billing_portal/sessions", portal.createPortalSession)
    .post("/v1/billing_portal/configurations", portalConfigs.createPortalConfiguration)
    .get("/v1/billing_portal/configurations", portalConfigs.listPortalConfigurations)
    .get("/v1/billing_portal/configurations/:id", portalConfigs.retrievePortalConfiguration)
    .post("/v1/billing_portal/configurations/:id", portalConfigs.updatePortalConfiguration)
    .get("/v1/tax/settings", taxSettings.retrieveTaxSettings)
    .post("/v1/tax/settings", taxSettings.updateTaxSettings)
    .get("/v1/events", events.listEvents)
    .get("/v1/events/:id", events.retrieveEvent)
    .post("/v1/webhook_endpoints", webhooks.createWebhookEndpoint)
    .get("/v1/webhook_endpoints", webhooks.listWebhookEndpoints)
    .get("/v1/webhook_endpoints/:id", webhooks.retrieveWebhookEndpoint)
    .post("/v1/webhook_endpoints/:id", webhooks.updateWebhookEndpoint)
    .del("/v1/webhook_endpoints/:id", webhooks.deleteWebhookEndpoint)
    .post("/v1/test_helpers/test_clocks", clocks.createTestClock)
    .get("/v1/test_helpers/test_clocks", clocks.listTestClocks)
    .get("/v1/test_helpers/test_clocks/:id", clocks.retrieveTestClock)
    .del("/v1/test_helpers/test_clocks/:id", clocks.deleteTestClock)
    .post("/v1/test_helpers/test_clocks/:id/advance", clocks.advanceTestClock);
}
