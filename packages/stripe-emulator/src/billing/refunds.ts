import Stripe from "stripe";
import { diff, type Core, type RequestInfo } from "../core.ts";
import { invalidRequest } from "../errors.ts";
import { newId } from "../ids.ts";
import { clone } from "../store.ts";
import { settleEarlyFraudWarnings } from "./fraud-warnings.ts";

const idOf = (v: string | { id: string } | null | undefined): string | null => (v === null || v === undefined ? null : typeof v === "string" ? v : v.id);

/** What is left to refund on a charge: Stripe never refunds more than was captured. */
export function refundableOf(charge: Stripe.Charge): number {
  return charge.status === "succeeded" ? charge.amount_captured - charge.amount_refunded : 0;
}

/**
 * Refunds part or all of a succeeded charge, as `POST /v1/refunds` does: the refund succeeds at
 * once (a test card's refund does), the charge's `amount_refunded` and `refunded` follow, and
 * `charge.refunded` then `refund.created` are emitted. `param` names the amount's parameter in
 * the caller's request (`amount` for a refund, `refund_amount` for a credit note).
 */
export function refundCharge(
  core: Core,
  charge: Stripe.Charge,
  args: { amount: number | undefined; reason: Stripe.Refund.Reason | null; metadata: Record<string, string>; param: string },
  now: number,
  request: RequestInfo | null,
): Stripe.Refund {
  const refundable = refundableOf(charge);
  if (charge.status !== "succeeded") throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, "charge", "charge_not_refundable");
  if (refundable <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`, "charge", "charge_already_refunded");
  const amount = args.amount ?? refundable;
  if (amount > refundable) {
    throw invalidRequest(`Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`, args.param, "amount_too_large");
  }
  const refund: Stripe.Refund = {
    id: newId("re"),
    object: "refund",
    amount,
    balance_transaction: newId("txn"),
    charge: charge.id,
    created: now,
    currency: charge.currency,
    customer: idOf(charge.customer),
    customer_account: null,
    destination_details: { type: "card", card: { reference_status: "pending", reference_type: "acquirer_reference_number", type: "refund" } },
    metadata: args.metadata,
    payment_intent: idOf(charge.payment_intent),
    payment_method: idOf(charge.payment_method),
    reason: args.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
  core.state.refunds.set(refund.id, refund);
  const before = clone(charge);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount_captured;
  const mine = [...core.state.refunds.values()].filter((r) => r.charge === charge.id).reverse();
  charge.refunds = { object: "list", data: clone(mine.slice(0, 10)), has_more: mine.length > 10, url: `/v1/charges/${charge.id}/refunds` };
  core.emit({ type: "charge.refunded", data: { object: charge, previous_attributes: diff(before, charge) } }, now, request);
  core.emit({ type: "refund.created", data: { object: refund } }, now, request);
  settleEarlyFraudWarnings(core, charge, now, request);
  return refund;
}

/** The charge that paid an invoice: its invoice payment's PaymentIntent's latest charge. */
export function chargeOfInvoice(core: Core, inv: Stripe.Invoice): Stripe.Charge | null {
  for (const p of core.state.invoicePayments.values()) {
    if (p.invoice !== inv.id || p.status !== "paid") continue;
    const pi = core.state.paymentIntents.get(idOf(p.payment.payment_intent ?? null) ?? "");
    const charge = pi ? core.state.charges.get(idOf(pi.latest_charge) ?? "") : undefined;
    if (charge) return charge;
  }
  return null;
}

export interface CreditLineInput {
  type: "invoice_line_item" | "custom_line_item";
  invoiceLineItem: string | null;
  amount: number | null;
  quantity: number | null;
  unitAmount: number | null;
  description: string | null;
  metadata: Record<string, string>;
}

export interface CreditNoteInput {
  amount: number | undefined;
  lines: CreditLineInput[] | undefined;
  refundAmount: number | undefined;
  creditAmount: number | undefined;
  outOfBandAmount: number | undefined;
  /** Existing refunds of the invoice's charge that this credit note accounts for. */
  refunds: { refund: string; amountRefunded: number | undefined }[] | undefined;
  reason: Stripe.CreditNote.Reason | null;
  memo: string | null;
  metadata: Record<string, string>;
}

/** The credit note's lines and total, checked against the invoice (shared by create and preview). */
function creditLines(inv: Stripe.Invoice, input: CreditNoteInput): { lines: Stripe.CreditNoteLineItem[]; total: number } {
  const lines: Stripe.CreditNoteLineItem[] = [];
  (input.lines ?? []).forEach((l, i) => {
    let amount: number;
    let quantity: number | null = l.quantity;
    let unit: number | null = l.unitAmount;
    let description = l.description;
    if (l.type === "invoice_line_item") {
      const line = inv.lines.data.find((x) => x.id === l.invoiceLineItem);
      if (!line) throw invalidRequest(`No such invoice line item: '${l.invoiceLineItem ?? ""}' on invoice ${inv.id}`, `lines[${i}][invoice_line_item]`, "resource_missing");
      const lineQuantity = line.quantity ?? 1;
      if (l.amount !== null) amount = l.amount;
      else if (l.quantity !== null) {
        if (l.quantity > lineQuantity) throw invalidRequest(`The quantity (${l.quantity}) is greater than the invoice line's (${lineQuantity}).`, `lines[${i}][quantity]`);
        amount = Math.round((line.amount * l.quantity) / lineQuantity);
      } else throw invalidRequest("An invoice_line_item line needs `amount` or `quantity`.", `lines[${i}][amount]`);
      if (amount > line.amount) throw invalidRequest(`The line amount (${amount}) is greater than the invoice line's (${line.amount}).`, `lines[${i}][amount]`);
      quantity = quantity ?? lineQuantity;
      unit = unit ?? (lineQuantity > 0 ? Math.round(line.amount / lineQuantity) : line.amount);
      description = description ?? line.description;
    } else {
      if (l.unitAmount === null) throw invalidRequest("A custom_line_item line needs `unit_amount`.", `lines[${i}][unit_amount]`, "parameter_missing");
      quantity = quantity ?? 1;
      amount = l.unitAmount * quantity;
      if (description === null) throw invalidRequest("A custom_line_item line needs `description`.", `lines[${i}][description]`, "parameter_missing");
    }
    lines.push({
      id: newId("cnli"),
      object: "credit_note_line_item",
      amount,
      description,
      discount_amount: 0,
      discount_amounts: [],
      ...(l.invoiceLineItem ? { invoice_line_item: l.invoiceLineItem } : {}),
      livemode: false,
      metadata: l.metadata,
      pretax_credit_amounts: [],
      quantity,
      tax_rates: [],
      taxes: [],
      type: l.type,
      unit_amount: unit,
      unit_amount_decimal: unit === null ? null : Stripe.Decimal.from(String(unit)),
    });
  });
  const fromLines = lines.reduce((sum, l) => sum + l.amount, 0);
  if (input.lines === undefined && input.amount === undefined) throw invalidRequest("You must pass either `amount` or `lines`.", "amount", "parameter_missing");
  if (input.lines !== undefined && input.amount !== undefined && input.amount !== fromLines) {
    throw invalidRequest(`The credit note amount (${input.amount}) must equal the sum of its lines (${fromLines}).`, "amount");
  }
  const total = input.amount ?? fromLines;
  if (total <= 0) throw invalidRequest("The credit note amount must be greater than 0.", "amount");
  return { lines, total };
}

/**
 * A credit note on a paid invoice (post-payment): checked against what is still creditable,
 * split into a refund of the invoice's charge (`refund_amount`, or existing `refunds`), credit
 * to the customer's balance and an out-of-band amount whose sum is the total, as Stripe
 * requires. `commit` false builds the same object without storing or emitting (the preview).
 */
export function issueCreditNote(core: Core, inv: Stripe.Invoice, input: CreditNoteInput, now: number, request: RequestInfo | null, commit: boolean): Stripe.CreditNote {
  if (inv.status !== "paid") {
    throw invalidRequest(`The emulator issues credit notes on paid invoices only; invoice ${inv.id} is ${inv.status}.`, "invoice", "invoice_not_editable");
  }
  const id = newId("cn");
  const { lines, total } = creditLines(inv, input);
  const creditable = inv.amount_paid - inv.post_payment_credit_notes_amount;
  if (total > creditable) {
    throw invalidRequest(
      `The credit note amount (${total}) is greater than the invoice's creditable amount (${creditable}).`,
      input.lines && input.amount === undefined ? "lines" : "amount",
      "credit_note_amount_too_large",
    );
  }
  if (input.refundAmount !== undefined && input.refunds !== undefined) throw invalidRequest("Pass either `refund_amount` or `refunds`, not both.", "refunds");
  const charge = chargeOfInvoice(core, inv);
  const linked: { refund: Stripe.Refund; amount: number }[] = [];
  for (const [i, r] of (input.refunds ?? []).entries()) {
    const refund = core.state.refunds.get(r.refund);
    if (!refund || refund.charge !== charge?.id) throw invalidRequest(`No such refund of invoice ${inv.id}'s payment: '${r.refund}'`, `refunds[${i}][refund]`, "resource_missing");
    linked.push({ refund, amount: r.amountRefunded ?? refund.amount });
  }
  const refundTotal = input.refundAmount ?? linked.reduce((sum, r) => sum + r.amount, 0);
  const outOfBand = input.outOfBandAmount ?? 0;
  const credit = input.creditAmount ?? total - refundTotal - outOfBand;
  if (credit < 0 || refundTotal + credit + outOfBand !== total) {
    throw invalidRequest(
      `The sum of credit amount, refund amount and out of band amount (${refundTotal + Math.max(credit, 0) + outOfBand}) must equal the credit note amount (${total}).`,
      "refund_amount",
    );
  }
  if (refundTotal > 0 && input.refundAmount !== undefined) {
    if (!charge) throw invalidRequest(`Invoice ${inv.id} was not paid by a charge; nothing can be refunded.`, "refund_amount");
    if (refundTotal > refundableOf(charge)) {
      throw invalidRequest(`Refund amount (${refundTotal}) is greater than unrefunded amount on charge (${refundableOf(charge)})`, "refund_amount", "amount_too_large");
    }
  }
  const customerId = idOf(inv.customer) ?? "";
  const note: Stripe.CreditNote = {
    id,
    object: "credit_note",
    amount: total,
    amount_shipping: 0,
    created: now,
    currency: inv.currency,
    customer: customerId,
    customer_account: null,
    customer_balance_transaction: credit > 0 ? newId("cbtxn") : null,
    discount_amount: 0,
    discount_amounts: [],
    effective_at: now,
    invoice: inv.id,
    lines: { object: "list", data: lines, has_more: false, url: `/v1/credit_notes/${id}/lines` },
    livemode: false,
    memo: input.memo,
    metadata: input.metadata,
    number: `${inv.number ?? "EMU"}-CN-${String([...core.state.creditNotes.values()].filter((c) => c.invoice === inv.id).length + 1).padStart(2, "0")}`,
    out_of_band_amount: input.outOfBandAmount ?? null,
    pdf: `${core.baseUrl}/_emulator/credit_notes/${id}/pdf`,
    post_payment_amount: total,
    pre_payment_amount: 0,
    pretax_credit_amounts: [],
    reason: input.reason,
    refunds: [],
    shipping_cost: null,
    status: "issued",
    subtotal: total,
    subtotal_excluding_tax: total,
    total,
    total_excluding_tax: total,
    total_taxes: [],
    type: "post_payment",
    voided_at: null,
  };
  if (!commit) {
    note.refunds = linked.map((r) => ({ amount_refunded: r.amount, payment_record_refund: null, refund: r.refund.id, type: "refund" }));
    return note;
  }
  if (input.refundAmount !== undefined && refundTotal > 0 && charge) {
    const reason: Stripe.Refund.Reason | null = input.reason === "duplicate" || input.reason === "fraudulent" ? input.reason : "requested_by_customer";
    linked.push({ refund: refundCharge(core, charge, { amount: refundTotal, reason, metadata: {}, param: "refund_amount" }, now, request), amount: refundTotal });
  }
  note.refunds = linked.map((r) => ({ amount_refunded: r.amount, payment_record_refund: null, refund: r.refund.id, type: "refund" }));
  if (credit > 0) {
    const customer = core.state.customers.get(customerId);
    if (customer) {
      const before = clone(customer);
      customer.balance -= credit;
      core.emit({ type: "customer.updated", data: { object: customer, previous_attributes: diff(before, customer) } }, now, request);
    }
  }
  core.state.creditNotes.set(note.id, note);
  const before = clone(inv);
  inv.post_payment_credit_notes_amount += total;
  core.emit({ type: "credit_note.created", data: { object: note } }, now, request);
  core.emit({ type: "invoice.updated", data: { object: inv, previous_attributes: diff(before, inv) } }, now, request);
  return note;
}
