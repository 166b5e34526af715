import type Stripe from "stripe";
import { diff, type Core } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, int, isNull, listFields, mergeMetadata, obj, objs, s, str, strs, validate, type Params } from "../form.ts";
import { newId } from "../ids.ts";
import { matchesRange, newestFirst, paginate } from "../list.ts";
import { clone } from "../store.ts";

/**
 * Billing portal configurations. Stripe makes an account's default configuration when its portal
 * settings are first saved in the Dashboard, and the API can update it but not make one default;
 * the emulator's account has one from the start (made on first use), so a portal session without
 * `configuration` works as it does on a set-up Stripe account.
 */
export const DEFAULT_CONFIGURATION_ID = "bpc_emulator_default";

const CANCELLATION_OPTIONS = ["customer_service", "low_quality", "missing_features", "other", "switched_service", "too_complex", "too_expensive", "unused"] as const;

const businessProfileSpec = s.obj({ headline: s.str({ emptyable: true }), privacy_policy_url: s.str({ emptyable: true }), terms_of_service_url: s.str({ emptyable: true }) });

const featuresSpec = s.obj({
  customer_update: s.obj({ enabled: s.bool(), allowed_updates: s.arr(s.enum("address", "email", "name", "phone", "shipping", "tax_id"), { emptyable: true }) }),
  invoice_history: s.obj({ enabled: s.req(s.bool()) }),
  payment_method_update: s.obj({ enabled: s.req(s.bool()), payment_method_configuration: s.str({ emptyable: true }) }),
  subscription_cancel: s.obj({
    enabled: s.bool(),
    mode: s.enum("at_period_end", "immediately"),
    proration_behavior: s.enum("always_invoice", "create_prorations", "none"),
    cancellation_reason: s.obj({ enabled: s.req(s.bool()), options: s.arr(s.enum(...CANCELLATION_OPTIONS), { emptyable: true }), feedback_options: s.arr(s.str(), { emptyable: true }) }),
  }),
  subscription_pause: s.obj({ enabled: s.bool() }),
  subscription_update: s.obj({
    enabled: s.bool(),
    default_allowed_updates: s.arr(s.enum("price", "promotion_code", "quantity"), { emptyable: true }),
    products: s.arr(
      s.obj({ product: s.req(s.str()), prices: s.req(s.arr(s.str())), adjustable_quantity: s.obj({ enabled: s.req(s.bool()), maximum: s.int({ min: 1 }), minimum: s.int({ min: 0 }) }) }),
      { emptyable: true },
    ),
    proration_behavior: s.enum("always_invoice", "create_prorations", "none"),
    billing_cycle_anchor: s.enum("now", "unchanged"),
    trial_update_behavior: s.enum("continue_trial", "end_trial"),
    schedule_at_period_end: s.obj({ conditions: s.arr(s.obj({ type: s.req(s.enum("decreasing_item_amount", "shortening_interval")) }), { emptyable: true }) }),
  }),
});

const commonFields = {
  business_profile: businessProfileSpec,
  default_return_url: s.str({ emptyable: true }),
  metadata: s.meta(),
  name: s.str({ emptyable: true }),
};

function disabledFeatures(): Stripe.BillingPortal.Configuration.Features {
  return {
    customer_update: { allowed_updates: [], enabled: false },
    invoice_history: { enabled: false },
    payment_method_update: { enabled: false, payment_method_configuration: null },
    subscription_cancel: {
      cancellation_reason: { enabled: false, feedback_options: null, options: [] },
      enabled: false,
      mode: "at_period_end",
      proration_behavior: "none",
    },
    subscription_pause: { duration: { interval_options: [{ interval: "month", interval_count: 1 }], type: "interval_options" }, enabled: false },
    subscription_update: {
      billing_cycle_anchor: null,
      default_allowed_updates: [],
      enabled: false,
      products: [],
      proration_behavior: "none",
      schedule_at_period_end: { conditions: [] },
      trial_update_behavior: "end_trial",
    },
  };
}

function newConfiguration(core: Core, id: string, isDefault: boolean): Stripe.BillingPortal.Configuration {
  const now = core.realNow();
  return {
    id,
    object: "billing_portal.configuration",
    active: true,
    application: null,
    business_profile: { headline: null, privacy_policy_url: null, terms_of_service_url: null },
    created: now,
    default_return_url: null,
    features: disabledFeatures(),
    is_default: isDefault,
    livemode: false,
    login_page: { enabled: false, url: null },
    metadata: {},
    name: null,
    updated: now,
  };
}

/** The account's default configuration, as the Dashboard first saves it: payment methods, invoices, cancel at period end, customer details. */
export function defaultConfiguration(core: Core): Stripe.BillingPortal.Configuration {
  const existing = core.state.portalConfigurations.get(DEFAULT_CONFIGURATION_ID);
  if (existing) return existing;
  const config = newConfiguration(core, DEFAULT_CONFIGURATION_ID, true);
  config.features.customer_update = { allowed_updates: ["email", "address"], enabled: true };
  config.features.invoice_history.enabled = true;
  config.features.payment_method_update.enabled = true;
  config.features.subscription_cancel.enabled = true;
  core.state.portalConfigurations.set(config.id, config);
  return config;
}

function checkUrl(url: string, param: string): void {
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw invalidRequest(`Invalid URL: ${url}`, param, "url_invalid");
}

function applyBusinessProfile(config: Stripe.BillingPortal.Configuration, bp: Params | undefined): void {
  if (!bp) return;
  for (const key of ["headline", "privacy_policy_url", "terms_of_service_url"] as const) {
    if (!has(bp, key)) continue;
    const value = str(bp, key) ?? null;
    if (value !== null && key !== "headline") checkUrl(value, `business_profile[${key}]`);
    config.business_profile[key] = value;
  }
}

function applyFeatures(core: Core, config: Stripe.BillingPortal.Configuration, f: Params | undefined): void {
  if (!f) return;
  const features = config.features;
  const cu = obj(f, "customer_update");
  if (cu) {
    if (has(cu, "enabled")) features.customer_update.enabled = bool(cu, "enabled") ?? false;
    if (has(cu, "allowed_updates")) features.customer_update.allowed_updates = strs(cu, "allowed_updates") ?? [];
  }
  const ih = obj(f, "invoice_history");
  if (ih) features.invoice_history.enabled = bool(ih, "enabled") ?? false;
  const pmu = obj(f, "payment_method_update");
  if (pmu) {
    features.payment_method_update.enabled = bool(pmu, "enabled") ?? false;
    if (has(pmu, "payment_method_configuration")) features.payment_method_update.payment_method_configuration = str(pmu, "payment_method_configuration") ?? null;
  }
  const sc = obj(f, "subscription_cancel");
  if (sc) {
    if (has(sc, "enabled")) features.subscription_cancel.enabled = bool(sc, "enabled") ?? false;
    const mode = str(sc, "mode");
    if (mode === "at_period_end" || mode === "immediately") features.subscription_cancel.mode = mode;
    const proration = str(sc, "proration_behavior");
    if (proration === "always_invoice")
      throw invalidRequest("Passing `always_invoice` to `features[subscription_cancel][proration_behavior]` is not supported.", "features[subscription_cancel][proration_behavior]");
    if (proration === "create_prorations" || proration === "none") features.subscription_cancel.proration_behavior = proration;
    if (features.subscription_cancel.proration_behavior === "create_prorations" && features.subscription_cancel.mode !== "immediately") {
      throw invalidRequest("`create_prorations` is only compatible with `features[subscription_cancel][mode]=immediately`.", "features[subscription_cancel][proration_behavior]");
    }
    const reason = obj(sc, "cancellation_reason");
    if (reason) {
      features.subscription_cancel.cancellation_reason = {
        enabled: bool(reason, "enabled") ?? false,
        feedback_options: strs(reason, "feedback_options") ?? null,
        options: strs(reason, "options") ?? [],
      };
    }
  }
  const sp = obj(f, "subscription_pause");
  if (sp && has(sp, "enabled")) features.subscription_pause.enabled = bool(sp, "enabled") ?? false;
  const su = obj(f, "subscription_update");
  if (su) {
    const update = features.subscription_update;
    if (has(su, "enabled")) update.enabled = bool(su, "enabled") ?? false;
    if (has(su, "default_allowed_updates")) update.default_allowed_updates = strs(su, "default_allowed_updates") ?? [];
    if (has(su, "products")) {
      const products = objs(su, "products") ?? [];
      if (products.length > 10) throw invalidRequest("You can pass at most 10 products.", "features[subscription_update][products]");
      update.products = products.map((p, i) => {
        const productId = str(p, "product") ?? "";
        if (!core.state.products.has(productId)) throw resourceMissing("product", productId, `features[subscription_update][products][${i}][product]`);
        const prices = strs(p, "prices") ?? [];
        prices.forEach((priceId, j) => {
          const price = core.state.prices.get(priceId);
          if (!price) throw resourceMissing("price", priceId, `features[subscription_update][products][${i}][prices][${j}]`);
          if (price.product !== productId)
            throw invalidRequest(`The price \`${priceId}\` does not belong to the product \`${productId}\`.`, `features[subscription_update][products][${i}][prices][${j}]`);
        });
        const aq = obj(p, "adjustable_quantity");
        return { product: productId, prices, adjustable_quantity: { enabled: bool(aq, "enabled") ?? false, maximum: int(aq, "maximum") ?? null, minimum: int(aq, "minimum") ?? 1 } };
      });
    }
    const proration = str(su, "proration_behavior");
    if (proration === "always_invoice" || proration === "create_prorations" || proration === "none") update.proration_behavior = proration;
    const anchor = str(su, "billing_cycle_anchor");
    if (anchor === "now" || anchor === "unchanged") update.billing_cycle_anchor = anchor;
    const trial = str(su, "trial_update_behavior");
    if (trial === "continue_trial" || trial === "end_trial") update.trial_update_behavior = trial;
    const sape = obj(su, "schedule_at_period_end");
    if (sape && has(sape, "conditions")) {
      update.schedule_at_period_end = {
        conditions: (objs(sape, "conditions") ?? []).map((c) => ({ type: str(c, "type") === "shortening_interval" ? "shortening_interval" : "decreasing_item_amount" })),
      };
    }
    // Stripe refuses to turn plan changes on without saying what they may change to.
    if (update.enabled && (update.default_allowed_updates.length === 0 || (update.products ?? []).length === 0)) {
      throw invalidRequest(
        "To enable `subscription_update`, pass `default_allowed_updates` and at least one entry in `products`.",
        update.default_allowed_updates.length === 0 ? "features[subscription_update][default_allowed_updates]" : "features[subscription_update][products]",
      );
    }
  }
}

function applyCommon(config: Stripe.BillingPortal.Configuration, p: Params): void {
  applyBusinessProfile(config, obj(p, "business_profile"));
  if (has(p, "default_return_url")) {
    const url = str(p, "default_return_url") ?? null;
    if (url !== null) checkUrl(url, "default_return_url");
    config.default_return_url = url;
  }
  if (has(p, "metadata")) config.metadata = mergeMetadata(config.metadata, obj(p, "metadata"), isNull(p, "metadata"));
  if (has(p, "name")) config.name = str(p, "name") ?? null;
}

export function createPortalConfiguration(ctx: Ctx): Stripe.BillingPortal.Configuration {
  const p = validate(ctx.raw, { ...commonFields, features: s.req(featuresSpec) });
  const core = ctx.core;
  // Made before any other, so the account's default stays the one the Dashboard would have saved.
  defaultConfiguration(core);
  const config = newConfiguration(core, newId("bpc"), false);
  applyFeatures(core, config, obj(p, "features"));
  applyCommon(config, p);
  core.state.portalConfigurations.set(config.id, config);
  core.emit({ type: "billing_portal.configuration.created", data: { object: config } }, config.created, ctx.request);
  return config;
}

export function requirePortalConfiguration(core: Core, id: string, param = "configuration"): Stripe.BillingPortal.Configuration {
  if (id === DEFAULT_CONFIGURATION_ID) return defaultConfiguration(core);
  const config = core.state.portalConfigurations.get(id);
  if (!config) throw resourceMissing("configuration", id, param);
  return config;
}

export function retrievePortalConfiguration(ctx: Ctx): Stripe.BillingPortal.Configuration {
  validate(ctx.raw, {});
  return requirePortalConfiguration(ctx.core, ctx.path.id ?? "", "configuration");
}

export function updatePortalConfiguration(ctx: Ctx): Stripe.BillingPortal.Configuration {
  const p = validate(ctx.raw, { ...commonFields, metadata: s.meta(), features: featuresSpec, active: s.bool() });
  const config = requirePortalConfiguration(ctx.core, ctx.path.id ?? "", "configuration");
  const before = clone(config);
  // Validate on a copy: a refused update leaves the configuration as it was.
  const next = clone(config);
  applyFeatures(ctx.core, next, obj(p, "features"));
  applyCommon(next, p);
  if (has(p, "active")) {
    const active = bool(p, "active") ?? true;
    if (!active && next.is_default) throw invalidRequest("The default configuration cannot be deactivated.", "active");
    next.active = active;
  }
  Object.assign(config, next);
  config.updated = ctx.core.realNow();
  ctx.core.emit({ type: "billing_portal.configuration.updated", data: { object: config, previous_attributes: diff(before, config) } }, config.updated, ctx.request);
  return config;
}

export function listPortalConfigurations(ctx: Ctx): Stripe.ApiList<Stripe.BillingPortal.Configuration> {
  const p = validate(ctx.raw, { ...listFields, active: s.bool(), is_default: s.bool() });
  defaultConfiguration(ctx.core);
  const active = bool(p, "active");
  const isDefault = bool(p, "is_default");
  const all = newestFirst(ctx.core.state.portalConfigurations).filter(
    (c) => (active === undefined || c.active === active) && (isDefault === undefined || c.is_default === isDefault) && matchesRange(c.created, p, "created"),
  );
  return paginate(all, p, "/v1/billing_portal/configurations");
}
