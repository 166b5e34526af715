/**
 * What `npm run stripe:setup` would change in a Stripe account to make it match the catalog and
 * its policy, read from Stripe without writing anything. apply.ts makes the changes; a second
 * run finds nothing to change.
 */
import type Stripe from "stripe";
import { PERIOD_OF, stripePriceMatches, type Catalog, type PortalPolicy, type Tier } from "../../worker/src/catalog.ts";

export interface SetupTarget {
  catalog: Catalog;
  /** The worker's webhook route (`https://<worker>/webhooks/stripe`); null leaves endpoints alone. */
  webhookUrl: string | null;
  /** Exactly what the endpoint subscribes to: the worker's HANDLED_EVENT_TYPES. */
  events: readonly string[];
  /** The version the worker's client pins (pinnedApiVersion). */
  apiVersion: string;
  /** Where the portal sends a customer back to: the app's billing page. */
  portalReturnUrl: string;
  /**
   * Whether this machine knows the endpoint's signing secret (for a local URL, `.dev.vars` has
   * one). Stripe shows a secret only when it creates the endpoint, so a local endpoint whose
   * secret is lost is made again.
   */
  secretKnown: boolean;
}

/** The catalog's name of a tier's Stripe product. */
export function productName(tier: Tier): string {
  return `Federal Job Advisor ${tier.name}`;
}

export interface PriceSpec {
  tier: string;
  lookupKey: string;
  amount: number;
  currency: string;
  interval: "month" | "year";
  /** Periods one payment covers: 2 and 3 for the prepaid multi-year prices. */
  intervalCount: number;
}

export type Change =
  | { kind: "create_product"; tier: string; name: string }
  | { kind: "update_product"; tier: string; id: string; name: string }
  | ({ kind: "create_price" } & PriceSpec)
  | ({ kind: "replace_price"; old: { id: string; amount: number | null; currency: string; interval: string | null; intervalCount: number } } & PriceSpec)
  | { kind: "reactivate_price"; lookupKey: string; id: string }
  | { kind: "create_webhook_endpoint"; url: string; events: string[]; apiVersion: string }
  | { kind: "update_webhook_endpoint"; id: string; url: string; events: string[]; added: string[]; removed: string[]; enable: boolean }
  | { kind: "replace_webhook_endpoint"; id: string; url: string; events: string[]; apiVersion: string; reason: string }
  | { kind: "update_portal_configuration"; id: string; fields: string[] };

export interface Check {
  name: "key_mode" | "stripe_tax" | "portal_default" | "webhook_endpoint";
  ok: boolean;
  message: string;
}

export interface Plan {
  changes: Change[];
  checks: Check[];
  /** What apply.ts needs of what was read: each tier's product id when it exists. */
  products: Record<string, string>;
}

/** One line a person reads for each change. */
export function describeChange(c: Change): string {
  const money = (amount: number | null, currency: string) => (amount === null ? "no amount" : `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`);
  const per = (interval: string | null, count: number) => (interval === null ? "?" : count === 1 ? interval : `${count} ${interval}s`);
  switch (c.kind) {
    case "create_product":
      return `create product "${c.name}" (tier ${c.tier})`;
    case "update_product":
      return `rename product ${c.id} to "${c.name}" (tier ${c.tier})`;
    case "create_price":
      return `create price ${c.lookupKey}: ${money(c.amount, c.currency)} per ${per(c.interval, c.intervalCount)}`;
    case "replace_price":
      return `replace price ${c.lookupKey}: ${money(c.old.amount, c.old.currency)} per ${per(c.old.interval, c.old.intervalCount)} (${c.old.id}, archived; its subscribers keep it) → ${money(c.amount, c.currency)} per ${per(c.interval, c.intervalCount)} (new price, lookup key moved)`;
    case "reactivate_price":
      return `reactivate archived price ${c.lookupKey} (${c.id})`;
    case "create_webhook_endpoint":
      return `create webhook endpoint ${c.url} for ${c.events.length} event types, API version ${c.apiVersion}`;
    case "update_webhook_endpoint": {
      const parts = [c.added.length ? `add ${c.added.join(", ")}` : "", c.removed.length ? `remove ${c.removed.join(", ")}` : "", c.enable ? "enable it" : ""].filter(Boolean);
      return `update webhook endpoint ${c.id} (${c.url}): ${parts.join("; ")}`;
    }
    case "replace_webhook_endpoint":
      return `replace webhook endpoint ${c.id} (${c.url}): ${c.reason}; a new endpoint with API version ${c.apiVersion}, a new signing secret`;
    case "update_portal_configuration":
      return `update the billing portal's default configuration ${c.id}: ${c.fields.join(", ")}`;
  }
}

/** Whether the plan changes nothing (checks never change anything). */
export function isEmpty(plan: Plan): boolean {
  return plan.changes.length === 0;
}

function specOf(tier: Tier, p: Tier["prices"][number]): PriceSpec {
  return {
    tier: tier.key,
    lookupKey: p.lookupKey,
    amount: p.unit.amount,
    currency: p.unit.currency,
    interval: PERIOD_OF[p.billingCycle].interval,
    intervalCount: PERIOD_OF[p.billingCycle].interval_count,
  };
}

async function planPrices(stripe: Stripe, catalog: Catalog): Promise<{ changes: Change[]; products: Record<string, string> }> {
  const keys = catalog.tiers.flatMap((t) => t.prices.map((p) => p.lookupKey));
  const held = new Map<string, Stripe.Price>();
  for (let i = 0; i < keys.length; i += 10) {
    // Stripe takes up to 10 lookup keys per list.
    const page = await stripe.prices.list({ lookup_keys: keys.slice(i, i + 10), limit: 100 });
    for (const price of page.data) if (price.lookup_key) held.set(price.lookup_key, price);
  }
  let allProducts: Stripe.Product[] | null = null;
  const changes: Change[] = [];
  const products: Record<string, string> = {};
  for (const tier of catalog.tiers) {
    const specs = tier.prices.map((p) => specOf(tier, p));
    // A tier's product: the one its prices are on, else one marked with the tier, else a new one.
    const onPrice = specs.map((s) => held.get(s.lookupKey)?.product).find((p) => p !== undefined);
    let product: Stripe.Product | null = null;
    if (onPrice !== undefined) product = typeof onPrice === "string" ? await stripe.products.retrieve(onPrice) : "deleted" in onPrice ? null : onPrice;
    if (!product) {
      allProducts ??= await stripe.products.list({ active: true, limit: 100 }).autoPagingToArray({ limit: 10_000 });
      product = allProducts.find((p) => p.metadata?.tier === tier.key) ?? null;
    }
    if (product) {
      products[tier.key] = product.id;
      if (product.name !== productName(tier) || product.metadata?.tier !== tier.key) changes.push({ kind: "update_product", tier: tier.key, id: product.id, name: productName(tier) });
    } else changes.push({ kind: "create_product", tier: tier.key, name: productName(tier) });
    for (const [i, spec] of specs.entries()) {
      const current = held.get(spec.lookupKey);
      if (!current) changes.push({ kind: "create_price", ...spec });
      else if (!stripePriceMatches(current, tier.prices[i]!))
        changes.push({
          kind: "replace_price",
          ...spec,
          old: { id: current.id, amount: current.unit_amount, currency: current.currency, interval: current.recurring?.interval ?? null, intervalCount: current.recurring?.interval_count ?? 1 },
        });
      else if (!current.active) changes.push({ kind: "reactivate_price", lookupKey: spec.lookupKey, id: current.id });
    }
  }
  return { changes, products };
}

async function planWebhook(stripe: Stripe, target: SetupTarget): Promise<{ changes: Change[]; checks: Check[] }> {
  const url = target.webhookUrl;
  if (url === null) return { changes: [], checks: [{ name: "webhook_endpoint", ok: false, message: "no --webhook-url given: the webhook endpoint was neither checked nor changed" }] };
  const events = [...target.events];
  const all = await stripe.webhookEndpoints.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
  const same = all.filter((e) => e.url === url);
  const checks: Check[] = [];
  if (same.length > 1) {
    checks.push({ name: "webhook_endpoint", ok: false, message: `${same.length} endpoints send to ${url}: every event arrives ${same.length} times; delete all but ${same[0]!.id} in the Dashboard` });
  }
  const endpoint = same[0];
  if (!endpoint) return { changes: [{ kind: "create_webhook_endpoint", url, events, apiVersion: target.apiVersion }], checks };
  // Stripe cannot change an endpoint's version, and shows a secret only at creation.
  const reason =
    endpoint.api_version !== target.apiVersion
      ? `its API version is ${endpoint.api_version ?? "the account's default"}, the worker pins ${target.apiVersion}`
      : !target.secretKnown
        ? "its signing secret is not in .dev.vars"
        : null;
  if (reason) return { changes: [{ kind: "replace_webhook_endpoint", id: endpoint.id, url, events, apiVersion: target.apiVersion, reason }], checks };
  const have = new Set(endpoint.enabled_events);
  const added = events.filter((e) => !have.has(e));
  const removed = endpoint.enabled_events.filter((e) => !events.includes(e));
  const enable = endpoint.status !== "enabled";
  if (added.length || removed.length || enable) return { changes: [{ kind: "update_webhook_endpoint", id: endpoint.id, url, events, added, removed, enable }], checks };
  return { changes: [], checks };
}

/** Stripe's cancellation and plan-change settings for a catalog policy (apply.ts sends them). */
export function desiredPortal(
  policy: PortalPolicy,
  catalog: Catalog,
  returnUrl: string,
  tierPrices: Record<string, { product: string; prices: string[] }>,
): Stripe.BillingPortal.ConfigurationUpdateParams {
  const change = catalog.policy.change;
  const conditions: Stripe.BillingPortal.ConfigurationUpdateParams.Features.SubscriptionUpdate.ScheduleAtPeriodEnd.Condition[] = [
    ...(change.downgrade === "period_end" ? [{ type: "decreasing_item_amount" as const }] : []),
    ...(change.cycle_change === "period_end" ? [{ type: "shortening_interval" as const }] : []),
  ];
  return {
    default_return_url: returnUrl,
    features: {
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
      customer_update: policy.customer_updates.length > 0 ? { enabled: true, allowed_updates: policy.customer_updates } : { enabled: false },
      subscription_cancel: policy.cancellation ? { enabled: true, mode: "at_period_end", proration_behavior: "none" } : { enabled: false },
      subscription_update: policy.plan_changes
        ? {
            enabled: true,
            default_allowed_updates: ["price"],
            products: Object.values(tierPrices),
            proration_behavior: change.upgrade === "prorate_now" ? "always_invoice" : "create_prorations",
            schedule_at_period_end: { conditions },
          }
        : { enabled: false },
    },
  };
}

/** The fields of the portal configuration that differ from the policy's (empty: nothing to do). */
export function portalDifferences(config: Stripe.BillingPortal.Configuration, want: Stripe.BillingPortal.ConfigurationUpdateParams): string[] {
  const f = config.features;
  const w = want.features!;
  const out: string[] = [];
  const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (config.default_return_url !== want.default_return_url) out.push(`default_return_url → ${want.default_return_url}`);
  if (!f.payment_method_update.enabled) out.push("payment method update on");
  if (!f.invoice_history.enabled) out.push("invoice history on");
  const cu = w.customer_update!;
  const cuWant = cu.enabled ? cu.allowed_updates || [] : [];
  if (f.customer_update.enabled !== (cu.enabled ?? false) || (cu.enabled && !sameSet(f.customer_update.allowed_updates, cuWant))) {
    out.push(cu.enabled ? `customer updates: ${cuWant.join(", ")}` : "customer updates off");
  }
  const sc = w.subscription_cancel!;
  if (f.subscription_cancel.enabled !== (sc.enabled ?? false) || (sc.enabled && (f.subscription_cancel.mode !== sc.mode || f.subscription_cancel.proration_behavior !== sc.proration_behavior))) {
    out.push(sc.enabled ? "cancellation on (at period end)" : "cancellation off (the worker's API offers retention first)");
  }
  const su = w.subscription_update!;
  if (!su.enabled) {
    if (f.subscription_update.enabled) out.push("plan changes off (the worker's API applies the change policy)");
  } else {
    const haveProducts = (f.subscription_update.products ?? []).map((p) => `${p.product}:${[...p.prices].sort().join(",")}`);
    const wantProducts = (su.products || []).map((p) => `${p.product}:${[...p.prices].sort().join(",")}`);
    const wanted = su.schedule_at_period_end?.conditions;
    const conditions = Array.isArray(wanted) ? wanted.map((c) => c.type) : [];
    if (
      !f.subscription_update.enabled ||
      !sameSet(haveProducts, wantProducts) ||
      !sameSet(f.subscription_update.default_allowed_updates, ["price"]) ||
      f.subscription_update.proration_behavior !== su.proration_behavior ||
      !sameSet(
        f.subscription_update.schedule_at_period_end.conditions.map((c) => c.type),
        conditions,
      )
    ) {
      out.push("plan changes on, between the catalog's prices, by the change policy");
    }
  }
  return out;
}

async function planPortal(stripe: Stripe, target: SetupTarget, priceChanges: Change[], products: Record<string, string>): Promise<{ changes: Change[]; checks: Check[] }> {
  const [config] = (await stripe.billingPortal.configurations.list({ is_default: true, limit: 1 })).data;
  if (!config) {
    return {
      changes: [],
      checks: [
        {
          name: "portal_default",
          ok: false,
          message:
            "the account has no default billing portal configuration, so portal sessions fail: save the portal settings once in the Dashboard (Settings → Billing → Customer portal), then run setup again",
        },
      ],
    };
  }
  const policy = target.catalog.policy.portal;
  // With plan changes on, the portal lists the catalog's prices: they are known once created.
  if (policy.plan_changes && priceChanges.some((c) => c.kind === "create_price" || c.kind === "replace_price" || c.kind === "create_product")) {
    return { changes: [{ kind: "update_portal_configuration", id: config.id, fields: ["plan changes between the catalog's new prices"] }], checks: [] };
  }
  const tierPrices = policy.plan_changes ? await currentTierPrices(stripe, target.catalog, products) : {};
  const fields = portalDifferences(config, desiredPortal(policy, target.catalog, target.portalReturnUrl, tierPrices));
  return { changes: fields.length ? [{ kind: "update_portal_configuration", id: config.id, fields }] : [], checks: [] };
}

/** Each tier's product and the ids of its catalog prices, as Stripe holds them now. */
export async function currentTierPrices(stripe: Stripe, catalog: Catalog, products: Record<string, string>): Promise<Record<string, { product: string; prices: string[] }>> {
  const out: Record<string, { product: string; prices: string[] }> = {};
  // Only what a person may switch between in the portal: an organization's seats are not theirs to change.
  for (const tier of catalog.tiers.filter((t) => t.audience === "individual")) {
    const found = await stripe.prices.list({ lookup_keys: tier.prices.map((p) => p.lookupKey), active: true, limit: 10 });
    const product = products[tier.key] ?? (typeof found.data[0]?.product === "string" ? found.data[0].product : found.data[0]?.product.id);
    if (product) out[tier.key] = { product, prices: found.data.map((p) => p.id) };
  }
  return out;
}

async function planTax(stripe: Stripe): Promise<Check> {
  try {
    const settings = await stripe.tax.settings.retrieve();
    if (settings.status === "active") return { name: "stripe_tax", ok: true, message: "Stripe Tax is active" };
    const missing = settings.status_details.pending?.missing_fields ?? [];
    return {
      name: "stripe_tax",
      ok: false,
      message: `Stripe Tax is ${settings.status}${missing.length ? ` (missing: ${missing.join(", ")})` : ""}: Checkout asks for automatic tax and Stripe refuses it until Tax is active (Dashboard → Tax → Settings)`,
    };
  } catch (e) {
    if (e instanceof Error && "type" in e && (e.type === "StripePermissionError" || e.type === "StripeInvalidRequestError")) {
      return { name: "stripe_tax", ok: false, message: `could not read the Stripe Tax settings (${e.message}): check them in the Dashboard (Tax → Settings)` };
    }
    throw e;
  }
}

/** Reads the account and returns what to change; writes nothing. */
export async function planSetup(stripe: Stripe, target: SetupTarget): Promise<Plan> {
  const prices = await planPrices(stripe, target.catalog);
  const webhook = await planWebhook(stripe, target);
  const portal = await planPortal(stripe, target, prices.changes, prices.products);
  const tax = await planTax(stripe);
  return { changes: [...prices.changes, ...webhook.changes, ...portal.changes], checks: [...webhook.checks, ...portal.checks, tax], products: prices.products };
}
