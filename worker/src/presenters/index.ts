// What other folders use of the presenters: each resource's wire schema and its present function, and the one wire format of an instant.
export { Entitlement, presentEntitlement, StoredEntitlement, Decision, presentDecision, EntitlementChanges, presentEntitlementChanges, type EntitlementWire, type DecisionWire } from "./entitlement";
export { Invoice, presentInvoice, InvoicePageSchema, presentInvoicePage, type InvoiceWire } from "./invoice";
export { ApiKey, presentKey, type ApiKeyView } from "./key";
export { UpgradeOffer, presentUpgradeOffer, presentUpgradeOffers, RetentionOffer, presentRetentionOffer, type UpgradeOfferWire, type RetentionOfferWire } from "./offer";
export {
  Subscription,
  presentSubscription,
  SubscriptionSummary,
  presentSubscriptionSummary,
  ChangePreview,
  presentChangePreview,
  CancelResult,
  presentCancelResult,
  type SubscriptionWire,
  type SubscriptionSummaryWire,
  type ChangePreviewWire,
  type CancelResultWire,
} from "./subscription";
export { ReportRow, RevenueReport } from "./report";
export { Dispute, presentDispute, DisputePageSchema, presentDisputePage, AccountFlagSchema, presentAccountFlags, type DisputeWire } from "./dispute";
export { Refund, presentRefund, RefundPageSchema, presentRefundPage, type RefundWire } from "./refund";
export {
  WebhookEndpoint,
  CreatedWebhookEndpoint,
  presentWebhookEndpoint,
  WebhookDelivery,
  presentWebhookDelivery,
  type WebhookEndpointWire,
  type WebhookDeliveryWire,
} from "./webhook-endpoint";
export {
  DisputeEvidenceAnswer,
  presentDisputeEvidence,
  DisputeSummary,
  presentDisputeSummary,
  type DisputeEvidenceAnswerWire,
  type DisputeSummaryWire,
} from "./dispute-evidence";
export {
  RecognitionRow,
  RevenueRecognitionSchema,
  presentRevenueRecognition,
  presentRecognitionJournalCsv,
  JOURNAL_COLUMNS,
  type RevenueRecognitionWire,
} from "./revenue-recognition";
export {
  Organization,
  presentOrganization,
  OrganizationMember,
  presentMember,
  presentMemberPage,
  OrganizationPayment,
  presentPayment,
  type OrganizationWire,
  type OrganizationMemberWire,
} from "./organization";
export {
  presentOrganizationInvoice,
  presentRenewal,
  presentSeatsChange,
  RenewalSchema,
  SeatsChangeSchema,
  type RenewalWire,
  type SeatsChangeWire,
} from "./organization-terms";
