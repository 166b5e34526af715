import Stripe from "stripe";
import { diff, type Core } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, int, listFields, mergeMetadata, obj, s, str, strs, validate, type Params } from "../form.ts";
import { newId } from "../ids.ts";
import { matchesRange, newestFirst, paginate } from "../list.ts";
import { clone } from "../store.ts";
import { requirePrice } from "./common.ts";

const recurringSpec = s.obj({
  interval: s.req(s.enum("day", "week", "month", "year")),
  interval_count: s.int({ min: 1 }),
  usage_type: s.enum("licensed", "metered"),
  trial_period_days: s.int({ min: 0 }),
});

const createFields = {
  currency: s.req(s.str()),
  unit_amount: s.int({ min: 0 }),
  unit_amount_decimal: s.str(),
  product: s.str(),
  product_data: s.obj({ name: s.req(s.str()), metadata: s.meta(), active: s.bool(), tax_code: s.str() }),
  recurring: recurringSpec,
  lookup_key: s.str(),
  transfer_lookup_key: s.bool(),
  nickname: s.str(),
  metadata: s.meta(),
  active: s.bool(),
  tax_behavior: s.enum("exclusive", "inclusive", "unspecified"),
  billing_scheme: s.enum("per_unit"),
};

export function createPrice(ctx: Ctx): Stripe.Price {
  return createPriceObject(ctx, validate(ctx.raw, createFields));
}

/** Shared with products' `default_price_data` and inline `price_data`. */
export function createPriceObject(ctx: Ctx, p: Params): Stripe.Price {
  const now = ctx.core.realNow();
  const unitAmount = int(p, "unit_amount") ?? (str(p, "unit_amount_decimal") !== undefined ? Number.parseInt(str(p, "unit_amount_decimal") ?? "0", 10) : undefined);
  if (unitAmount === undefined) throw invalidRequest("Missing required param: unit_amount.", "unit_amount", "parameter_missing");
  let productId = str(p, "product");
  const productData = obj(p, "product_data");
  if (productId === undefined && productData === undefined) throw invalidRequest("Missing required param: product.", "product", "parameter_missing");
  if (productId !== undefined && !ctx.core.state.products.has(productId)) throw resourceMissing("product", productId, "product");
  const lookupKey = str(p, "lookup_key") ?? null;
  if (lookupKey !== null) {
    const holder = [...ctx.core.state.prices.values()].find((x) => x.lookup_key === lookupKey);
    if (holder) {
      if (bool(p, "transfer_lookup_key") !== true) {
        throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, "lookup_key", "lookup_key_already_exists");
      }
      holder.lookup_key = null;
      refreshEmbeddedPrice(ctx.core, holder);
    }
  }
  if (productData) {
    const product: Stripe.Product = {
      id: newId("prod"),
      object: "product",
      active: bool(productData, "active") ?? true,
      created: now,
      default_price: null,
      description: null,
      images: [],
      livemode: false,
      marketing_features: [],
      metadata: mergeMetadata(null, obj(productData, "metadata"), false),
      name: str(productData, "name") ?? "",
      package_dimensions: null,
      shippable: null,
      statement_descriptor: null,
      tax_code: str(productData, "tax_code") ?? null,
      tax_details: null,
      type: "service",
      unit_label: null,
      updated: now,
      url: null,
    };
    ctx.core.state.products.set(product.id, product);
    ctx.core.emit({ type: "product.created", data: { object: product } }, now, ctx.request);
    productId = product.id;
  }
  const rec = obj(p, "recurring");
  const interval = str(rec, "interval");
  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: bool(p, "active") ?? true,
    billing_scheme: "per_unit",
    created: now,
    currency: (str(p, "currency") ?? "usd").toLowerCase(),
    custom_unit_amount: null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    nickname: str(p, "nickname") ?? null,
    product: productId ?? "",
    recurring:
      rec && (interval === "day" || interval === "week" || interval === "month" || interval === "year")
        ? { interval, interval_count: int(rec, "interval_count") ?? 1, meter: null, trial_period_days: int(rec, "trial_period_days") ?? null, usage_type: "licensed" }
        : null,
    tax_behavior: taxBehavior(str(p, "tax_behavior")),
    tiers_mode: null,
    transform_quantity: null,
    type: rec ? "recurring" : "one_time",
    unit_amount: unitAmount,
    unit_amount_decimal: Stripe.Decimal.from(String(unitAmount)),
  };
  ctx.core.state.prices.set(price.id, price);
  ctx.core.emit({ type: "price.created", data: { object: price } }, now, ctx.request);
  return price;
}

/**
 * Stripe renders a subscription item's price as the price is now: a subscriber on a price that
 * lost its lookup key (moved to a newer price) or was archived sees that on the subscription.
 */
function refreshEmbeddedPrice(core: Core, price: Stripe.Price): void {
  for (const sub of core.state.subscriptions.values()) {
    for (const item of sub.items.data) if (item.price.id === price.id) item.price = clone(price);
  }
}

function taxBehavior(v: string | undefined): Stripe.Price.TaxBehavior {
  return v === "exclusive" || v === "inclusive" ? v : "unspecified";
}

export function retrievePrice(ctx: Ctx): Stripe.Price {
  validate(ctx.raw, {});
  return requirePrice(ctx.core, ctx.path.id ?? "", "id");
}

export function updatePrice(ctx: Ctx): Stripe.Price {
  const p = validate(ctx.raw, {
    active: s.bool(),
    metadata: s.meta(),
    nickname: s.str({ emptyable: true }),
    lookup_key: s.str({ emptyable: true }),
    transfer_lookup_key: s.bool(),
    tax_behavior: s.enum("exclusive", "inclusive", "unspecified"),
  });
  const price = requirePrice(ctx.core, ctx.path.id ?? "", "id");
  const key = str(p, "lookup_key");
  const holder = key === undefined ? undefined : [...ctx.core.state.prices.values()].find((x) => x.lookup_key === key && x.id !== price.id);
  if (holder && bool(p, "transfer_lookup_key") !== true) {
    throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, "lookup_key", "lookup_key_already_exists");
  }
  const before = clone(price);
  if (holder) holder.lookup_key = null;
  if (has(p, "active")) price.active = bool(p, "active") ?? price.active;
  if (has(p, "metadata")) price.metadata = mergeMetadata(price.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "nickname")) price.nickname = str(p, "nickname") ?? null;
  if (has(p, "lookup_key")) price.lookup_key = key ?? null;
  if (has(p, "tax_behavior")) price.tax_behavior = taxBehavior(str(p, "tax_behavior"));
  if (holder) refreshEmbeddedPrice(ctx.core, holder);
  refreshEmbeddedPrice(ctx.core, price);
  ctx.core.emit({ type: "price.updated", data: { object: price, previous_attributes: diff(before, price) } }, ctx.core.realNow(), ctx.request);
  return price;
}

export function listPrices(ctx: Ctx): Stripe.ApiList<Stripe.Price> {
  const p = validate(ctx.raw, {
    ...listFields,
    active: s.bool(),
    product: s.str(),
    currency: s.str(),
    type: s.enum("one_time", "recurring"),
    lookup_keys: s.arr(s.str()),
    recurring: s.obj({ interval: s.str(), usage_type: s.str() }),
  });
  const active = bool(p, "active");
  const product = str(p, "product");
  const currency = str(p, "currency");
  const type = str(p, "type");
  const keys = strs(p, "lookup_keys");
  const interval = str(obj(p, "recurring"), "interval");
  const all = newestFirst(ctx.core.state.prices).filter(
    (x) =>
      (active === undefined || x.active === active) &&
      (product === undefined || x.product === product) &&
      (currency === undefined || x.currency === currency) &&
      (type === undefined || x.type === type) &&
      (keys === undefined || (x.lookup_key !== null && keys.includes(x.lookup_key))) &&
      (interval === undefined || x.recurring?.interval === interval) &&
      matchesRange(x.created, p, "created"),
  );
  return paginate(all, p, "/v1/prices");
}
