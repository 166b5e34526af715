/**
 * A payment an agency made outside Stripe (ACH, a check, Treasury's systems, a card taken by
 * phone): the invoice is marked paid out of band in Stripe, with the method and reference in
 * its metadata, and the audit log says who recorded it. Nothing is charged.
 */
import type { Actor } from "../audit";
import { DomainError } from "../errors";
import type { Services } from "../services";
import { emptyTargets, idOf, isMissing, type Stripe, syncObjects } from "../stripe-sync";
import { organizationAudited } from "./audited";
import { requireOrganization } from "./view";

export const PAYMENT_METHODS = ["ach", "check", "treasury", "card"] as const;
export type OutOfBandMethod = (typeof PAYMENT_METHODS)[number];

export interface RecordedPayment {
  invoiceId: string;
  amount: number;
  currency: string;
  method: OutOfBandMethod;
  reference: string;
  /** Unix seconds: when Stripe marked the invoice paid. */
  paidAt: number;
}

/** The Invoice's includable property of the amount paid outside Stripe. */
const PAID_OFF_STRIPE = "amount_paid_off_stripe";

export type PaymentDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

export async function recordPayment(deps: PaymentDeps, who: Actor, orgId: string, invoiceId: string, input: { method: OutOfBandMethod; reference: string }): Promise<RecordedPayment> {
  const org = await requireOrganization(deps.db, orgId);
  const notOurs = () => new DomainError("not_found", `The organization ${orgId} has no invoice ${invoiceId}.`, { errors: [{ field: "invoice_id", message: "no such invoice of the organization" }] });
  // What was paid outside Stripe is an includable property: this API version has no paid_out_of_band on the Invoice.
  const inv = await deps.stripe.invoices.retrieve(invoiceId, { expand: [PAID_OFF_STRIPE] }).catch((e: unknown) => {
    if (isMissing(e)) throw notOurs();
    throw e;
  });
  if (org.customerId === null || idOf(inv.customer) !== org.customerId) throw notOurs();
  // This very payment, marked in Stripe by an earlier run whose mirror or audit write failed: the
  // retry completes them (once), rather than a 409 that leaves the payment unaudited. The note alone
  // is not enough: a run that wrote it and failed before marking the invoice leaves it on an invoice
  // the agency may then pay by card on its page, and that payment is not this one.
  const note = inv.metadata ?? {};
  const paidOffStripe = inv.amount_paid_off_stripe ?? 0;
  const ours = inv.status === "paid" && paidOffStripe > 0 && note.payment_method === input.method && note.payment_reference === input.reference && note.payment_recorded_by === who.id;
  if (ours) return recorded(deps, who, orgId, inv, input, paidOffStripe, inv.status_transitions?.paid_at ?? Math.floor(deps.clock.now() / 1000));
  if (inv.status !== "open") {
    throw new DomainError("conflict", `The invoice ${invoiceId} is ${inv.status ?? "draft"}: only an open invoice takes a payment.`, {
      errors: [{ field: "invoice_id", message: `the invoice is ${inv.status ?? "draft"}` }],
    });
  }
  const key = `organization-payment:${invoiceId}:${who.idempotencyKey ?? `${input.method}:${input.reference}`}`;
  await deps.stripe.invoices.update(invoiceId, { metadata: { payment_method: input.method, payment_reference: input.reference, payment_recorded_by: who.id } }, { idempotencyKey: `${key}:note` });
  const paid = await deps.stripe.invoices.pay(invoiceId, { paid_out_of_band: true, expand: [PAID_OFF_STRIPE] }, { idempotencyKey: `${key}:pay` });
  // The amount recorded is Stripe's figure of what was paid out of band, on this path and on a retry's alike.
  return recorded(deps, who, orgId, paid, input, paid.amount_paid_off_stripe ?? inv.amount_remaining, paid.status_transitions?.paid_at ?? Math.floor(deps.clock.now() / 1000));
}

/** The payment marked in Stripe, mirrored and audited, unless its audit row is there already. */
async function recorded(
  deps: PaymentDeps,
  who: Actor,
  orgId: string,
  inv: Stripe.Invoice,
  input: { method: OutOfBandMethod; reference: string },
  amount: number,
  paidAt: number,
): Promise<RecordedPayment> {
  const payment: RecordedPayment = { invoiceId: inv.id, amount, currency: inv.currency, method: input.method, reference: input.reference, paidAt };
  if (await organizationAudited(deps.db, orgId, "organization.payment_recorded", { invoice: inv.id })) return payment;
  const targets = emptyTargets();
  targets.invoices.add(inv.id);
  await syncObjects(deps, { actor: who, cause: "organization.payment_recorded", at: paidAt * 1000 }, targets, {
    entries: [
      {
        actor: who,
        action: "organization.payment_recorded",
        subject: { type: "organization", id: orgId },
        after: { invoice: inv.id, amount, currency: inv.currency, method: input.method, reference: input.reference },
      },
    ],
  });
  return payment;
}
