import type Stripe from "stripe";
import type { Core } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest } from "../errors.ts";
import { s, str, validate } from "../form.ts";
import { randomToken } from "../ids.ts";
import { requireCustomer } from "./common.ts";
import { DEFAULT_CONFIGURATION_ID, defaultConfiguration, requirePortalConfiguration } from "./portal-configurations.ts";

/**
 * Billing portal sessions: a URL to the emulator's small self-service page for the customer, which
 * offers what the session's configuration (the account's default unless one is given) allows.
 */
export function createPortalSession(ctx: Ctx): Stripe.BillingPortal.Session {
  const p = validate(ctx.raw, {
    customer: s.req(s.str()),
    return_url: s.str(),
    configuration: s.str(),
    locale: s.str(),
    flow_data: s.obj({ type: s.req(s.str()) }, { open: true }),
    on_behalf_of: s.str(),
  });
  const customer = requireCustomer(ctx.core, str(p, "customer") ?? "");
  const given = str(p, "configuration");
  const configuration = given === undefined ? defaultConfiguration(ctx.core) : requirePortalConfiguration(ctx.core, given);
  if (!configuration.active) throw invalidRequest(`The configuration \`${configuration.id}\` is inactive: activate it, or pass another.`, "configuration");
  const id = `bps_${randomToken(24)}`;
  const session: Stripe.BillingPortal.Session = {
    id,
    object: "billing_portal.session",
    configuration: configuration.id,
    created: ctx.core.nowForCustomer(customer.id),
    customer: customer.id,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: str(p, "return_url") ?? null,
    url: `${ctx.core.baseUrl}/_emulator/portal/${id}`,
  };
  ctx.core.state.portalSessions.set(id, session);
  return session;
}

/** Whether the session's configuration lets the customer cancel (or renew) in the portal. */
export function portalAllowsCancel(core: Core, session: Stripe.BillingPortal.Session): boolean {
  const id = typeof session.configuration === "string" ? session.configuration : session.configuration.id;
  const config = id === DEFAULT_CONFIGURATION_ID ? defaultConfiguration(core) : core.state.portalConfigurations.get(id);
  return config?.features.subscription_cancel.enabled ?? false;
}
