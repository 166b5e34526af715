/** Every route of the API, each declared in its own file with its method, path and permission. */
import type { ApiRoute } from "../http/route";
import analyticsChurnRisk from "./analytics/churn-risk";
import analyticsCohorts from "./analytics/cohorts";
import analyticsReport from "./analytics/report";
import analyticsRevenueRecognition from "./analytics/revenue-recognition";
import analyticsSpend from "./analytics/spend";
import analyticsTargets from "./analytics/targets";
import auditList from "./audit/list";
import auditVerify from "./audit/verify";
import billingCheckout from "./billing/checkout";
import billingPortal from "./billing/portal";
import complianceReport from "./compliance/report";
import dashboardLogin from "./dashboard/login";
import dashboardLoginForm from "./dashboard/login-form";
import dashboardLogout from "./dashboard/logout";
import dashboardPage from "./dashboard/page";
import promotionCode from "./billing/promotion-code";
import dunningList from "./dunning/list";
import emailsList from "./emails/list";
import entitlementsChanges from "./entitlements/changes";
import entitlementsCheck from "./entitlements/check";
import entitlementsGet from "./entitlements/get";
import jwks from "./entitlements/jwks";
import entitlementsToken from "./entitlements/token";
import eventsList from "./events/list";
import eventsReplay from "./events/replay";
import eventsReplayRange from "./events/replay-range";
import resync from "./events/resync";
import invoicesList from "./invoices/list";
import organizationsCreate from "./organizations/create";
import organizationsGet from "./organizations/get";
import organizationsMemberAssign from "./organizations/member-assign";
import organizationsMemberRelease from "./organizations/member-release";
import organizationsMembersList from "./organizations/members-list";
import organizationsSeats from "./organizations/seats";
import organizationsPaymentRecord from "./organizations/payment-record";
import organizationsRenew from "./organizations/renew";
import refundsCreate from "./refunds/create";
import refundsList from "./refunds/list";
import disputesList from "./disputes/list";
import disputesEvidence from "./disputes/evidence";
import keysCreate from "./keys/create";
import keysList from "./keys/list";
import keysRevoke from "./keys/revoke";
import keysRotate from "./keys/rotate";
import mcp from "./mcp/endpoint";
import subscriptionsCancel from "./subscriptions/cancel";
import subscriptionsChange from "./subscriptions/change";
import subscriptionsChangePreview from "./subscriptions/change-preview";
import subscriptionsGet from "./subscriptions/get";
import subscriptionsOfferAccept from "./subscriptions/offer-accept";
import subscriptionsPause from "./subscriptions/pause";
import subscriptionsReactivate from "./subscriptions/reactivate";
import subscriptionsResume from "./subscriptions/resume";
import catalog from "./system/catalog";
import systemChecks from "./system/checks";
import docs from "./system/docs";
import health from "./system/health";
import webhooksStripe from "./webhooks/stripe";
import webhookEndpointsCreate from "./webhook-endpoints/create";
import webhookEndpointsDelete from "./webhook-endpoints/delete";
import webhookEndpointsDeliveries from "./webhook-endpoints/deliveries";
import webhookEndpointsGet from "./webhook-endpoints/get";
import webhookEndpointsList from "./webhook-endpoints/list";
import webhookEndpointsReplay from "./webhook-endpoints/replay";
import webhookEndpointsRetry from "./webhook-endpoints/retry";
import webhookEndpointsRotateSecret from "./webhook-endpoints/rotate-secret";
import webhookEndpointsUpdate from "./webhook-endpoints/update";
import toolsCreateSubscription from "./tools/create-subscription";
import toolsEnforceTierAccess from "./tools/enforce-tier-access";
import toolsGenerateRevenueReport from "./tools/generate-revenue-report";
import toolsList from "./tools/list";
import toolsManageDunningProcess from "./tools/manage-dunning-process";
import toolsProcessRefund from "./tools/process-refund";
import toolsDisputeSummary from "./tools/dispute-summary";
import toolsManageSeats from "./tools/manage-seats";
import toolsProcessWebhook from "./tools/process-webhook";

export const routes: readonly ApiRoute[] = [
  health,
  catalog,
  systemChecks,
  keysCreate,
  keysList,
  keysRotate,
  keysRevoke,
  auditList,
  auditVerify,
  complianceReport,
  jwks,
  entitlementsToken,
  // Before `/v1/entitlements/{user_id}`, which would take "changes" for a user id.
  entitlementsChanges,
  entitlementsGet,
  entitlementsCheck,
  webhooksStripe,
  eventsList,
  webhookEndpointsCreate,
  webhookEndpointsList,
  webhookEndpointsGet,
  webhookEndpointsUpdate,
  webhookEndpointsDelete,
  webhookEndpointsRotateSecret,
  webhookEndpointsDeliveries,
  webhookEndpointsRetry,
  webhookEndpointsReplay,
  emailsList,
  dunningList,
  eventsReplay,
  eventsReplayRange,
  resync,
  subscriptionsGet,
  subscriptionsChangePreview,
  subscriptionsChange,
  subscriptionsCancel,
  subscriptionsOfferAccept,
  subscriptionsReactivate,
  subscriptionsPause,
  subscriptionsResume,
  invoicesList,
  refundsCreate,
  refundsList,
  disputesList,
  disputesEvidence,
  organizationsCreate,
  organizationsGet,
  organizationsMembersList,
  organizationsMemberAssign,
  organizationsMemberRelease,
  organizationsSeats,
  organizationsPaymentRecord,
  organizationsRenew,
  billingCheckout,
  billingPortal,
  promotionCode,
  analyticsReport,
  analyticsRevenueRecognition,
  analyticsCohorts,
  analyticsChurnRisk,
  analyticsTargets,
  analyticsSpend,
  toolsList,
  toolsCreateSubscription,
  toolsProcessWebhook,
  toolsEnforceTierAccess,
  toolsGenerateRevenueReport,
  toolsManageDunningProcess,
  toolsProcessRefund,
  toolsDisputeSummary,
  toolsManageSeats,
  mcp,
  docs,
];

/**
 * The dashboard's HTML pages: a session cookie instead of a key, and left out of the OpenAPI
 * document (`session.guard` in http/session.ts), so they are listed apart from the API.
 */
export const pages: readonly ApiRoute[] = [dashboardPage, dashboardLoginForm, dashboardLogin, dashboardLogout];
