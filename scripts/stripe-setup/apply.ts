/**
 * Makes the changes of a plan (plan.ts), in order: products, then prices (a new price takes the
 * lookup key from the old one with `transfer_lookup_key`, then the old one is archived, never
 * edited), then the webhook endpoint, then the portal configuration, which may list the prices.
 */
import type Stripe from "stripe";
import { currentTierPrices, desiredPortal, type Change, type Plan, type PriceSpec, type SetupTarget } from "./plan.ts";

export interface Applied {
  /** The signing secret of an endpoint this run created: Stripe shows it only now. */
  webhookSecret: string | null;
  webhookEndpointId: string | null;
}

function priceParams(spec: PriceSpec, product: string): Stripe.PriceCreateParams {
  return {
    product,
    currency: spec.currency,
    unit_amount: spec.amount,
    recurring: { interval: spec.interval, interval_count: spec.intervalCount },
    lookup_key: spec.lookupKey,
    // Kept on the price for good: a subscriber left on it after its key moved still has a tier.
    metadata: { tier: spec.tier, lookup_key: spec.lookupKey },
  };
}

async function createEndpoint(stripe: Stripe, c: { url: string; events: string[]; apiVersion: string }): Promise<Stripe.WebhookEndpoint> {
  return stripe.webhookEndpoints.create({
    url: c.url,
    enabled_events: c.events as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
    api_version: c.apiVersion as Stripe.WebhookEndpointCreateParams.ApiVersion,
    description: "Billing worker (npm run stripe:setup)",
  });
}

export async function applyPlan(stripe: Stripe, plan: Plan, target: SetupTarget): Promise<Applied> {
  const products = { ...plan.products };
  const out: Applied = { webhookSecret: null, webhookEndpointId: null };
  const productOf = (tier: string): string => {
    const id = products[tier];
    if (!id) throw new Error(`no product for tier ${tier}: the plan should have created it`);
    return id;
  };
  const byKind = <K extends Change["kind"]>(kind: K) => plan.changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
  for (const c of byKind("create_product")) {
    const product = await stripe.products.create({ name: c.name, metadata: { tier: c.tier } });
    products[c.tier] = product.id;
  }
  for (const c of byKind("update_product")) await stripe.products.update(c.id, { name: c.name, metadata: { tier: c.tier } });
  for (const c of byKind("create_price")) await stripe.prices.create(priceParams(c, productOf(c.tier)));
  for (const c of byKind("replace_price")) {
    await stripe.prices.create({ ...priceParams(c, productOf(c.tier)), transfer_lookup_key: true });
    await stripe.prices.update(c.old.id, { active: false });
  }
  for (const c of byKind("reactivate_price")) await stripe.prices.update(c.id, { active: true });
  for (const c of byKind("create_webhook_endpoint")) {
    const endpoint = await createEndpoint(stripe, c);
    out.webhookSecret = endpoint.secret ?? null;
    out.webhookEndpointId = endpoint.id;
  }
  for (const c of byKind("replace_webhook_endpoint")) {
    // The new one first: events keep going out while the old one is removed.
    const endpoint = await createEndpoint(stripe, c);
    await stripe.webhookEndpoints.del(c.id);
    out.webhookSecret = endpoint.secret ?? null;
    out.webhookEndpointId = endpoint.id;
  }
  for (const c of byKind("update_webhook_endpoint")) {
    await stripe.webhookEndpoints.update(c.id, { enabled_events: c.events as Stripe.WebhookEndpointUpdateParams.EnabledEvent[], ...(c.enable ? { disabled: false } : {}) });
    out.webhookEndpointId = c.id;
  }
  for (const c of byKind("update_portal_configuration")) {
    const policy = target.catalog.policy.portal;
    const tierPrices = policy.plan_changes ? await currentTierPrices(stripe, target.catalog, products) : {};
    await stripe.billingPortal.configurations.update(c.id, desiredPortal(policy, target.catalog, target.portalReturnUrl, tierPrices));
  }
  return out;
}
