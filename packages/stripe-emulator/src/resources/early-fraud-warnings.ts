import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { listFields, s, str, validate } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";

/** Radar's early fraud warnings (read-only in Stripe's API: issuers raise them, see control.ts). */
export function retrieveEarlyFraudWarning(ctx: Ctx): Stripe.Radar.EarlyFraudWarning {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const warning = ctx.core.state.earlyFraudWarnings.get(id);
  if (!warning) throw resourceMissing("radar.early_fraud_warning", id);
  return warning;
}

export function listEarlyFraudWarnings(ctx: Ctx): Stripe.ApiList<Stripe.Radar.EarlyFraudWarning> {
  const p = validate(ctx.raw, { ...listFields, charge: s.str(), payment_intent: s.str() });
  const charge = str(p, "charge");
  const pi = str(p, "payment_intent");
  const all = [...ctx.core.state.earlyFraudWarnings.values()]
    .reverse()
    .filter((w) => (charge === undefined || w.charge === charge) && (pi === undefined || w.payment_intent === pi) && matchesRange(w.created, p, "created"));
  return paginate(all, p, "/v1/radar/early_fraud_warnings");
}
