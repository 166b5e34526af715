import type Stripe from "stripe";
import { diff } from "../core.ts";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { bool, has, listFields, mergeMetadata, obj, s, str, strs, validate } from "../form.ts";
import { newId } from "../ids.ts";
import { matchesRange, newestFirst, paginate } from "../list.ts";
import { clone } from "../store.ts";
import { createPriceObject } from "./prices.ts";

const fields = {
  name: s.str(),
  description: s.str({ emptyable: true }),
  active: s.bool(),
  metadata: s.meta(),
  images: s.arr(s.str(), { emptyable: true }),
  tax_code: s.str({ emptyable: true }),
  unit_label: s.str({ emptyable: true }),
  url: s.str({ emptyable: true }),
  statement_descriptor: s.str({ emptyable: true }),
  marketing_features: s.arr(s.obj({ name: s.str() }), { emptyable: true }),
};

export function createProduct(ctx: Ctx): Stripe.Product {
  const p = validate(ctx.raw, {
    ...fields,
    name: s.req(s.str()),
    id: s.str(),
    type: s.enum("service", "good"),
    default_price_data: s.obj({
      currency: s.req(s.str()),
      unit_amount: s.int({ min: 0 }),
      recurring: s.obj({ interval: s.req(s.enum("day", "week", "month", "year")), interval_count: s.int({ min: 1 }) }),
      tax_behavior: s.enum("exclusive", "inclusive", "unspecified"),
    }),
  });
  const now = ctx.core.realNow();
  const id = str(p, "id") ?? newId("prod");
  const product: Stripe.Product = {
    id,
    object: "product",
    active: bool(p, "active") ?? true,
    created: now,
    default_price: null,
    description: str(p, "description") ?? null,
    images: strs(p, "images") ?? [],
    livemode: false,
    marketing_features: [],
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    name: str(p, "name") ?? "",
    package_dimensions: null,
    shippable: null,
    statement_descriptor: str(p, "statement_descriptor") ?? null,
    tax_code: str(p, "tax_code") ?? null,
    tax_details: null,
    type: str(p, "type") === "good" ? "good" : "service",
    unit_label: str(p, "unit_label") ?? null,
    updated: now,
    url: str(p, "url") ?? null,
  };
  ctx.core.state.products.set(id, product);
  ctx.core.emit({ type: "product.created", data: { object: product } }, now, ctx.request);
  const dpd = obj(p, "default_price_data");
  if (dpd) {
    const price = createPriceObject(ctx, { ...dpd, product: id });
    product.default_price = price.id;
  }
  return product;
}

export function requireProduct(ctx: Ctx, id: string, param = "id"): Stripe.Product {
  const product = ctx.core.state.products.get(id);
  if (!product) throw resourceMissing("product", id, param);
  return product;
}

export function retrieveProduct(ctx: Ctx): Stripe.Product {
  validate(ctx.raw, {});
  return requireProduct(ctx, ctx.path.id ?? "");
}

export function updateProduct(ctx: Ctx): Stripe.Product {
  const p = validate(ctx.raw, { ...fields, default_price: s.str() });
  const product = requireProduct(ctx, ctx.path.id ?? "");
  const defaultPrice = str(p, "default_price");
  if (defaultPrice !== undefined && !ctx.core.state.prices.has(defaultPrice)) throw resourceMissing("price", defaultPrice, "default_price");
  const before = clone(product);
  if (has(p, "name")) product.name = str(p, "name") ?? product.name;
  if (has(p, "description")) product.description = str(p, "description") ?? null;
  if (has(p, "active")) product.active = bool(p, "active") ?? product.active;
  if (has(p, "metadata")) product.metadata = mergeMetadata(product.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "images")) product.images = strs(p, "images") ?? [];
  if (has(p, "url")) product.url = str(p, "url") ?? null;
  if (defaultPrice !== undefined) product.default_price = defaultPrice;
  product.updated = ctx.core.realNow();
  ctx.core.emit({ type: "product.updated", data: { object: product, previous_attributes: diff(before, product) } }, ctx.core.realNow(), ctx.request);
  return product;
}

export function deleteProduct(ctx: Ctx): Stripe.DeletedProduct {
  validate(ctx.raw, {});
  const product = requireProduct(ctx, ctx.path.id ?? "");
  ctx.core.state.products.delete(product.id);
  ctx.core.emit({ type: "product.deleted", data: { object: product } }, ctx.core.realNow(), ctx.request);
  return { id: product.id, object: "product", deleted: true };
}

export function listProducts(ctx: Ctx): Stripe.ApiList<Stripe.Product> {
  const p = validate(ctx.raw, { ...listFields, active: s.bool(), ids: s.arr(s.str()) });
  const active = bool(p, "active");
  const ids = strs(p, "ids");
  const all = newestFirst(ctx.core.state.products).filter((x) => (active === undefined || x.active === active) && (ids === undefined || ids.includes(x.id)) && matchesRange(x.created, p, "created"));
  return paginate(all, p, "/v1/products");
}
