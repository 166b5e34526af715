import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { resourceMissing } from "../errors.ts";
import { int, listFields, mergeMetadata, obj, objs, s, str, validate, type Fields, type Params } from "../form.ts";
import { matchesRange, paginate } from "../list.ts";
import { issueCreditNote, type CreditLineInput, type CreditNoteInput } from "../billing/refunds.ts";
import { idOf } from "./common.ts";
import { requireInvoice } from "./invoices.ts";

const REASONS = ["duplicate", "fraudulent", "order_change", "product_unsatisfactory"] as const;

/** The parameters of create and preview (Stripe's CreditNoteCreateParams, without shipping and tax). */
const creditNoteFields: Fields = {
  invoice: s.req(s.str()),
  amount: s.int({ min: 0 }),
  credit_amount: s.int({ min: 0 }),
  out_of_band_amount: s.int({ min: 0 }),
  refund_amount: s.int({ min: 0 }),
  refunds: s.arr(s.obj({ refund: s.req(s.str()), amount_refunded: s.int({ min: 1 }), type: s.enum("refund") })),
  lines: s.arr(
    s.obj({
      type: s.req(s.enum("invoice_line_item", "custom_line_item")),
      invoice_line_item: s.str(),
      amount: s.int({ min: 0 }),
      quantity: s.int({ min: 1 }),
      unit_amount: s.int({ min: 0 }),
      description: s.str(),
      metadata: s.meta(),
    }),
  ),
  reason: s.enum(...REASONS),
  memo: s.str(),
  metadata: s.meta(),
  email_type: s.enum("credit_note", "none"),
  effective_at: s.ts(),
};

function inputOf(p: Params): CreditNoteInput {
  const lines = objs(p, "lines")?.map(
    (l): CreditLineInput => ({
      type: str(l, "type") === "custom_line_item" ? "custom_line_item" : "invoice_line_item",
      invoiceLineItem: str(l, "invoice_line_item") ?? null,
      amount: int(l, "amount") ?? null,
      quantity: int(l, "quantity") ?? null,
      unitAmount: int(l, "unit_amount") ?? null,
      description: str(l, "description") ?? null,
      metadata: mergeMetadata(null, obj(l, "metadata"), false),
    }),
  );
  const reason = str(p, "reason");
  return {
    amount: int(p, "amount"),
    lines,
    refundAmount: int(p, "refund_amount"),
    creditAmount: int(p, "credit_amount"),
    outOfBandAmount: int(p, "out_of_band_amount"),
    refunds: objs(p, "refunds")?.map((r) => ({ refund: str(r, "refund") ?? "", amountRefunded: int(r, "amount_refunded") })),
    reason: REASONS.find((x) => x === reason) ?? null,
    memo: str(p, "memo") ?? null,
    metadata: mergeMetadata(null, obj(p, "metadata"), false),
  };
}

function build(ctx: Ctx, commit: boolean): Stripe.CreditNote {
  const p = validate(ctx.raw, creditNoteFields);
  const inv = requireInvoice(ctx, str(p, "invoice") ?? "", "invoice");
  return issueCreditNote(ctx.core, inv, inputOf(p), ctx.core.nowForCustomer(idOf(inv.customer)), ctx.request, commit);
}

/** `POST /v1/credit_notes`: see billing/refunds.ts issueCreditNote. */
export function createCreditNote(ctx: Ctx): Stripe.CreditNote {
  return build(ctx, true);
}

/** `GET /v1/credit_notes/preview`: the credit note `create` would issue, nothing stored or sent. */
export function previewCreditNote(ctx: Ctx): Stripe.CreditNote {
  return build(ctx, false);
}

export function retrieveCreditNote(ctx: Ctx): Stripe.CreditNote {
  validate(ctx.raw, {});
  const id = ctx.path.id ?? "";
  const note = ctx.core.state.creditNotes.get(id);
  if (!note) throw resourceMissing("credit_note", id);
  return note;
}

export function listCreditNotes(ctx: Ctx): Stripe.ApiList<Stripe.CreditNote> {
  const p = validate(ctx.raw, { ...listFields, invoice: s.str(), customer: s.str() });
  const invoice = str(p, "invoice");
  const customer = str(p, "customer");
  const all = [...ctx.core.state.creditNotes.values()]
    .reverse()
    .filter((n) => (invoice === undefined || n.invoice === invoice) && (customer === undefined || n.customer === customer) && matchesRange(n.created, p, "created"));
  return paginate(all, p, "/v1/credit_notes");
}

export function listCreditNoteLines(ctx: Ctx): Stripe.ApiList<Stripe.CreditNoteLineItem> {
  const p = validate(ctx.raw, listFields);
  const note = retrieveCreditNote({ ...ctx, raw: {} });
  return paginate(note.lines.data, p, `/v1/credit_notes/${note.id}/lines`);
}
