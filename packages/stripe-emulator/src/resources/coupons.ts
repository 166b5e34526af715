import type Stripe from "stripe";
import { diff } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, int, listFields, mergeMetadata, obj, s, str, validate } from "../form.ts";
import { newId, randomToken } from "../ids.ts";
import { matchesRange, newestFirst, paginate } from "../list.ts";
import { clone } from "../store.ts";

export function createCoupon(ctx: Ctx): Stripe.Coupon {
  const p = validate(ctx.raw, {
    id: s.str(),
    name: s.str(),
    percent_off: s.int({ min: 1, max: 100 }),
    amount_off: s.int({ min: 1 }),
    currency: s.str(),
    duration: s.enum("once", "repeating", "forever"),
    duration_in_months: s.int({ min: 1 }),
    max_redemptions: s.int({ min: 1 }),
    redeem_by: s.ts(),
    metadata: s.meta(),
  });
  const percent = int(p, "percent_off");
  const amount = int(p, "amount_off");
  if (percent === undefined && amount === undefined) throw invalidRequest("Must provide either `percent_off` or `amount_off`.", "percent_off");
  if (percent !== undefined && amount !== undefined) throw invalidRequest("Coupons cannot have both `percent_off` and `amount_off`.", "amount_off");
  if (amount !== undefined && str(p, "currency") === undefined) throw invalidRequest("You must pass currency when passing amount_off.", "currency", "parameter_missing");
  const duration = str(p, "duration") ?? "once";
  const months = int(p, "duration_in_months") ?? null;
  if (duration === "repeating" && months === null) throw invalidRequest("Missing required param: duration_in_months.", "duration_in_months", "parameter_missing");
  const id = str(p, "id") ?? randomToken(8);
  if (ctx.core.state.coupons.has(id)) throw invalidRequest("Coupon already exists.", "id", "resource_already_exists");
  const coupon: Stripe.Coupon = {
    id,
    object: "coupon",
    amount_off: amount ?? null,
    created: ctx.core.realNow(),
    currency: str(p, "currency")?.toLowerCase() ?? null,
    duration: duration === "forever" || duration === "repeating" ? duration : "once",
    duration_in_months: duration === "repeating" ? months : null,
    livemode: false,
    max_redemptions: int(p, "max_redemptions") ?? null,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    name: str(p, "name") ?? null,
    percent_off: percent ?? null,
    redeem_by: int(p, "redeem_by") ?? null,
    times_redeemed: 0,
    valid: true,
  };
  ctx.core.state.coupons.set(id, coupon);
  ctx.core.emit({ type: "coupon.created", data: { object: coupon } }, ctx.core.realNow(), ctx.request);
  return coupon;
}

export function requireCoupon(ctx: Ctx, id: string, param = "id"): Stripe.Coupon {
  const c = ctx.core.state.coupons.get(id);
  if (!c) throw resourceMissing("coupon", id, param);
  return c;
}

export function retrieveCoupon(ctx: Ctx): Stripe.Coupon {
  validate(ctx.raw, {});
  return requireCoupon(ctx, ctx.path.id ?? "");
}

export function updateCoupon(ctx: Ctx): Stripe.Coupon {
  const p = validate(ctx.raw, { name: s.str({ emptyable: true }), metadata: s.meta() });
  const coupon = requireCoupon(ctx, ctx.path.id ?? "");
  const before = clone(coupon);
  if (has(p, "name")) coupon.name = str(p, "name") ?? null;
  if (has(p, "metadata")) coupon.metadata = mergeMetadata(coupon.metadata, obj(p, "metadata"), p.metadata === null);
  ctx.core.emit({ type: "coupon.updated", data: { object: coupon, previous_attributes: diff(before, coupon) } }, ctx.core.realNow(), ctx.request);
  return coupon;
}

export function deleteCoupon(ctx: Ctx): Stripe.DeletedCoupon {
  validate(ctx.raw, {});
  const coupon = requireCoupon(ctx, ctx.path.id ?? "");
  ctx.core.state.coupons.delete(coupon.id);
  ctx.core.emit({ type: "coupon.deleted", data: { object: coupon } }, ctx.core.realNow(), ctx.request);
  return { id: coupon.id, object: "coupon", deleted: true };
}

export function listCoupons(ctx: Ctx): Stripe.ApiList<Stripe.Coupon> {
  const p = validate(ctx.raw, listFields);
  return paginate(
    newestFirst(ctx.core.state.coupons).filter((c) => matchesRange(c.created, p, "created")),
    p,
    "/v1/coupons",
  );
}

export function createPromotionCode(ctx: Ctx): Stripe.PromotionCode {
  const p = validate(ctx.raw, {
    promotion: s.req(s.obj({ type: s.req(s.enum("coupon")), coupon: s.req(s.str()) })),
    code: s.str(),
    active: s.bool(),
    customer: s.str(),
    expires_at: s.ts(),
    max_redemptions: s.int({ min: 1 }),
    metadata: s.meta(),
    restrictions: s.obj({ first_time_transaction: s.bool(), minimum_amount: s.int(), minimum_amount_currency: s.str() }),
  });
  const couponId = str(obj(p, "promotion"), "coupon") ?? "";
  requireCoupon(ctx, couponId, "promotion[coupon]");
  const customer = str(p, "customer") ?? null;
  if (customer !== null && !ctx.core.state.customers.has(customer)) throw resourceMissing("customer", customer, "customer");
  const code = str(p, "code") ?? randomToken(8).toUpperCase();
  if ([...ctx.core.state.promotionCodes.values()].some((x) => x.active && x.code.toLowerCase() === code.toLowerCase())) {
    throw invalidRequest("An active promotion code with `code` already exists.", "code", "resource_already_exists");
  }
  const r = obj(p, "restrictions");
  const promo: Stripe.PromotionCode = {
    id: newId("promo"),
    object: "promotion_code",
    active: bool(p, "active") ?? true,
    code,
    created: ctx.core.realNow(),
    customer,
    customer_account: null,
    expires_at: int(p, "expires_at") ?? null,
    livemode: false,
    max_redemptions: int(p, "max_redemptions") ?? null,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
    promotion: { coupon: couponId, type: "coupon" },
    restrictions: {
      first_time_transaction: bool(r, "first_time_transaction") ?? false,
      minimum_amount: int(r, "minimum_amount") ?? null,
      minimum_amount_currency: str(r, "minimum_amount_currency") ?? null,
    },
    times_redeemed: 0,
  };
  ctx.core.state.promotionCodes.set(promo.id, promo);
  ctx.core.emit({ type: "promotion_code.created", data: { object: promo } }, ctx.core.realNow(), ctx.request);
  return promo;
}

export function retrievePromotionCode(ctx: Ctx): Stripe.PromotionCode {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const promo = ctx.core.state.promotionCodes.get(id);
  if (!promo) throw resourceMissing("promotion_code", id);
  return promo;
}

export function updatePromotionCode(ctx: Ctx): Stripe.PromotionCode {
  const p = validate(ctx.raw, { active: s.bool(), metadata: s.meta() });
  const promo = retrievePromotionCode({ ...ctx, raw: {} });
  const before = clone(promo);
  if (has(p, "active")) promo.active = bool(p, "active") ?? promo.active;
  if (has(p, "metadata")) promo.metadata = mergeMetadata(promo.metadata, obj(p, "metadata"), p.metadata === null);
  ctx.core.emit({ type: "promotion_code.updated", data: { object: promo, previous_attributes: diff(before, promo) } }, ctx.core.realNow(), ctx.request);
  return promo;
}

export function listPromotionCodes(ctx: Ctx): Stripe.ApiList<Stripe.PromotionCode> {
  const p = validate(ctx.raw, { ...listFields, code: s.str(), active: s.bool(), coupon: s.str(), customer: s.str() });
  const code = str(p, "code");
  const active = bool(p, "active");
  const coupon = str(p, "coupon");
  const all = newestFirst(ctx.core.state.promotionCodes).filter(
    (x) => (code === undefined || x.code.toLowerCase() === code.toLowerCase()) && (active === undefined || x.active === active) && (coupon === undefined || x.promotion.coupon === coupon),
  );
  return paginate(all, p, "/v1/promotion_codes");
}
