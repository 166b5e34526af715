import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { int, listFields, mergeMetadata, obj, s, str, validate } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { refundCharge } from "../billing/refunds.ts";
import { idOf } from "./common.ts";

/** `POST /v1/refunds`: a charge, or a PaymentIntent's latest charge, refunded in full or in part. */
export function createRefund(ctx: Ctx): Stripe.Refund {
  const p = validate(ctx.raw, {
    charge: s.str(),
    payment_intent: s.str(),
    amount: s.int({ min: 1 }),
    reason: s.enum("duplicate", "fraudulent", "requested_by_customer"),
    metadata: s.meta(),
  });
  const chargeId = str(p, "charge");
  const piId = str(p, "payment_intent");
  if (chargeId === undefined && piId === undefined) throw invalidRequest("One of `charge` or `payment_intent` is required.", "charge", "parameter_missing");
  if (chargeId !== undefined && piId !== undefined) throw invalidRequest("Pass only one of `charge` or `payment_intent`.", "payment_intent");
  let charge: Stripe.Charge | undefined;
  if (piId !== undefined) {
    const pi = ctx.core.state.paymentIntents.get(piId);
    if (!pi) throw resourceMissing("payment_intent", piId, "payment_intent");
    charge = ctx.core.state.charges.get(idOf(pi.latest_charge) ?? "");
    if (!charge) throw invalidRequest(`PaymentIntent ${piId} has no charge to refund.`, "payment_intent");
  } else {
    charge = ctx.core.state.charges.get(chargeId ?? "");
    if (!charge) throw resourceMissing("charge", chargeId ?? "", "charge");
  }
  const reason = str(p, "reason");
  const now = ctx.core.nowForCustomer(idOf(charge.customer));
  return refundCharge(
    ctx.core,
    charge,
    {
      amount: int(p, "amount"),
      reason: reason === "duplicate" || reason === "fraudulent" || reason === "requested_by_customer" ? reason : null,
      metadata: mergeMetadata(null, obj(p, "metadata"), false),
      param: "amount",
    },
    now,
    ctx.request,
  );
}

export function retrieveRefund(ctx: Ctx): Stripe.Refund {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const refund = ctx.core.state.refunds.get(id);
  if (!refund) throw resourceMissing("refund", id);
  return refund;
}

export function updateRefund(ctx: Ctx): Stripe.Refund {
  const p = validate(ctx.raw, { metadata: s.meta() });
  const refund = retrieveRefund({ ...ctx, raw: {} });
  refund.metadata = mergeMetadata(refund.metadata, obj(p, "metadata"), false);
  ctx.core.emit({ type: "refund.updated", data: { object: refund } }, ctx.core.nowForCustomer(idOf(refund.customer)), ctx.request);
  return refund;
}

export function listRefunds(ctx: Ctx): Stripe.ApiList<Stripe.Refund> {
  const p = validate(ctx.raw, { ...listFields, charge: s.str(), payment_intent: s.str() });
  const charge = str(p, "charge");
  const pi = str(p, "payment_intent");
  const all = [...ctx.core.state.refunds.values()]
    .reverse()
    .filter((r) => (charge === undefined || r.charge === charge) && (pi === undefined || r.payment_intent === pi) && matchesRange(r.created, p, "created"));
  return paginate(all, p, "/v1/refunds");
}
