import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { s, str, validate } from "../form.ts";
import { randomToken } from "../ids.ts";
import { requireCustomer } from "./common.ts";

/** Billing portal sessions: a URL to the emulator's small self-service page for the customer. */
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
  const id = `bps_${randomToken(24)}`;
  const session: Stripe.BillingPortal.Session = {
    id,
    object: "billing_portal.session",
    configuration: str(p, "configuration") ?? "bpc_emulator_default",
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
