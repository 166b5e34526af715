import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { bool, listFields, mergeMetadata, obj, s, str, validate, type Fields } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { acceptDispute, EVIDENCE_FIELDS, updateDispute, type EvidenceField } from "../billing/disputes.ts";
import { idOf } from "./common.ts";

/** Every text evidence field Stripe takes (files are ids of uploads, which the emulator takes as text too). */
const evidenceFields: Fields = Object.fromEntries(EVIDENCE_FIELDS.map((k) => [k, s.str({ emptyable: true })]));

function find(ctx: Ctx): Stripe.Dispute {
  const id = ctx.path.id ?? "";
  const dispute = ctx.core.state.disputes.get(id);
  if (!dispute) throw resourceMissing("dispute", id);
  return dispute;
}

const nowOf = (ctx: Ctx, d: Stripe.Dispute): number => {
  const charge = ctx.core.state.charges.get(idOf(d.charge) ?? "");
  return ctx.core.nowForCustomer(idOf(charge?.customer));
};

export function retrieveDispute(ctx: Ctx): Stripe.Dispute {
  validate(ctx.raw, {});
  return find(ctx);
}

export function listDisputes(ctx: Ctx): Stripe.ApiList<Stripe.Dispute> {
  const p = validate(ctx.raw, { ...listFields, charge: s.str(), payment_intent: s.str() });
  const charge = str(p, "charge");
  const pi = str(p, "payment_intent");
  const all = [...ctx.core.state.disputes.values()]
    .reverse()
    .filter((d) => (charge === undefined || d.charge === charge) && (pi === undefined || d.payment_intent === pi) && matchesRange(d.created, p, "created"));
  return paginate(all, p, "/v1/disputes");
}

/** `POST /v1/disputes/:id`: evidence and metadata; `submit` defaults to true, as on Stripe. */
export function updateDisputeRoute(ctx: Ctx): Stripe.Dispute {
  const p = validate(ctx.raw, {
    evidence: s.obj(evidenceFields),
    metadata: s.meta(),
    submit: s.bool(),
    intended_submission_method: s.enum("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes"),
  });
  const dispute = find(ctx);
  const ev = obj(p, "evidence");
  const evidence = ev ? Object.fromEntries(Object.entries(ev).map(([k, v]) => [k as EvidenceField, typeof v === "string" ? v : null])) : undefined;
  const meta = obj(p, "metadata");
  return updateDispute(
    ctx.core,
    dispute,
    { evidence, metadata: meta === undefined ? undefined : mergeMetadata(dispute.metadata, meta, false), submit: bool(p, "submit") ?? true },
    nowOf(ctx, dispute),
    ctx.request,
  );
}

export function closeDisputeRoute(ctx: Ctx): Stripe.Dispute {
  validate(ctx.raw, {});
  const dispute = find(ctx);
  return acceptDispute(ctx.core, dispute, nowOf(ctx, dispute), ctx.request);
}
