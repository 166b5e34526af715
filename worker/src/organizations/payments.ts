/**
 * A payment an organization made outside Stripe (an ACH transfer, a check, Treasury's systems)
 * is recorded on its invoice (POST /v1/organizations/{org_id}/invoices/{invoice_id}/payments):
 * Stripe marks the invoice paid out of band (`invoices.pay` with `paid_out_of_band`, no charge),
 * the invoice keeps the method and reference in its metadata, and the audit log says who
 * recorded it (the API key's actor), how and with what reference, in the batch that mirrors the
 * paid invoice.
 */
import type { Actor } from "../audit";
import { canonicalJson, sha256Hex } from "../crypto";
import { DomainError } from "../errors";
import { emptyTargets, idOf, invoiceSubscriptionId, isMissing, type Stripe, syncObjects } from "../stripe-sync";
import type { OrganizationDeps } from "./create";
import { orgNow } from "./org-clock";
import { invoiceOf, requireOrganization, type OrganizationInvoice } from "./view";

export type OutOfBandMethod = "ach" | "check" | "treasury" | "card";

export interface PaymentInput {
  method: OutOfBandMethod;
  reference: string;
}

export interface RecordedPayment {
  orgId: string;
  invoice: OrganizationInvoice;
  method: OutOfBandMethod;
  reference: string;
  /** The invoice's amount the payment settled (integer cents). */
  amount: number;
  currency: string;
  /** Who recorded it: the API key's actor. */
  recordedBy: { type: string; id: string };
  /** When (ms), on the organization's clock. */
  recordedAt: number;
}

function noSuchInvoice(orgId: string, invoiceId: string): DomainError {
  // The same answer whether the invoice does not exist or is another customer's: an org's key learns nothing of others.
  return new DomainError("not_found", `${orgId} has no invoice ${invoiceId}.`, { errors: [{ field: "invoice_id", message: "no such invoice of the organization" }] });
}

export async function recordPayment(deps: OrganizationDeps, who: Actor, orgId: string, invoiceId: string, input: PaymentInput): Promise<RecordedPayment> {
  const row = await requireOrganization(deps.db, orgId);
  const inv = await deps.stripe.invoices.retrieve(invoiceId).catch((e: unknown) => {
    if (isMissing(e)) throw noSuchInvoice(orgId, invoiceId);
    throw e;
  });
  if (row.customerId === null || idOf(inv.customer) !== row.customerId) throw noSuchInvoice(orgId, invoiceId);
  if (inv.status === "paid")
    throw new DomainError("conflict", `Invoice ${inv.number ?? inv.id} is paid already; nothing was recorded.`, { errors: [{ field: "invoice_id", message: "is paid already" }] });
  if (inv.status !== "open")
    throw new DomainError("conflict", `Invoice ${inv.number ?? inv.id} is ${inv.status ?? "a draft"}; only an open invoice can be paid.`, {
      errors: [{ field: "invoice_id", message: `is ${inv.status ?? "draft"}` }],
    });

  const digest = await sha256Hex(canonicalJson({ orgId, invoiceId, input, key: who.idempotencyKey ?? null }));
  const key = (step: string) => `organization-payment:${invoiceId}:${digest}:${step}`;
  const metadata = { payment_method_out_of_band: input.method, payment_reference: input.reference, payment_recorded_by: `${who.type}:${who.id}` };
  await deps.stripe.invoices.update(invoiceId, { metadata }, { idempotencyKey: key("note") });
  const paid = await deps.stripe.invoices.pay(invoiceId, { paid_out_of_band: true }, { idempotencyKey: key("pay") });
  const recordedAt = await orgNow(deps, row);

  const targets = emptyTargets();
  targets.invoices.add(paid.id);
  const subId = invoiceSubscriptionId(paid);
  if (subId) targets.subscriptions.add(subId);
  await syncObjects(deps, { actor: who, cause: "organization.payment_recorded", at: recordedAt }, targets, {
    entries: [
      {
        actor: who,
        action: "organization.payment_recorded",
        subject: { type: "organization", id: orgId },
        before: { invoice: inv.id, status: inv.status },
        after: {
          invoice: paid.id,
          number: paid.number ?? null,
          status: paid.status,
          method: input.method,
          reference: input.reference,
          amount: inv.amount_remaining,
          currency: paid.currency,
          recorded_by: { type: who.type, id: who.id },
        },
      },
    ],
  });
  return {
    orgId,
    invoice: invoiceOf(paid as Stripe.Invoice),
    method: input.method,
    reference: input.reference,
    amount: inv.amount_remaining,
    currency: paid.currency,
    recordedBy: { type: who.type, id: who.id },
    recordedAt,
  };
}
