/**
 * A dispute's evidence, built from the system's own records: the dispute, its charge, the
 * invoice the charge paid and the customer as Stripe has them now (never the mirror alone for
 * the dispute's state), the access log of the invoice's service period (entitlements/), the
 * customer's earlier undisputed payments from the mirror, and the cancellation and refund
 * terms Checkout showed (catalog.ts `policy.terms`).
 */
import { and, eq, gt, isNotNull, lt, ne, notExists, sql } from "drizzle-orm";
import { catalog as defaultCatalog, catalogPriceOf, checkoutTermsText, periodLabel, planName, type Catalog } from "../catalog";
import { creditNotes, disputes, invoices, refunds } from "../db/schema";
import { accessActivity, accessByDay, type AccessActivity } from "../entitlements";
import { DomainError } from "../errors";
import { instant } from "../instant";
import type { Services } from "../services";
import { disputedCharge, everyInvoiceLine, idOf, isMissing, type Stripe } from "../stripe-sync";
import { clockReader } from "../test-clocks";
import { accessLogText, EVIDENCE_TEXT_LIMIT, money, priorPaymentsText, type PriorPayment } from "./text";

export type EvidenceDeps = Pick<Services, "db" | "stripe" | "clock" | "log">;

/** The evidence fields the worker fills, by Stripe's names (DisputeUpdateParams.Evidence). */
export type Evidence = Pick<
  Stripe.DisputeUpdateParams.Evidence,
  "customer_email_address" | "customer_name" | "product_description" | "service_date" | "access_activity_log" | "cancellation_policy_disclosure" | "refund_policy_disclosure" | "uncategorized_text"
>;

export interface DisputeEvidence {
  dispute: Stripe.Dispute;
  invoiceId: string;
  userId: string | null;
  /** The customer's now (ms): their test clock's, in test mode. */
  customerNow: number;
  /** The disputed invoice's service period [start, end) (ms). */
  period: { start: number; end: number };
  access: AccessActivity;
  priorPayments: PriorPayment[];
  evidence: Evidence;
}

async function retrieveDispute(stripe: Stripe, id: string): Promise<Stripe.Dispute> {
  try {
    return await stripe.disputes.retrieve(id);
  } catch (e) {
    if (isMissing(e)) throw new DomainError("not_found", `Stripe has no dispute ${id}.`, { errors: [{ field: "id", message: "no such dispute" }] });
    throw e;
  }
}

/**
 * The service period an invoice paid for: its subscription lines' periods (not the invoice's own
 * `period_*`, which for a subscription is the period before, or an instant for the first invoice).
 */
export function servicePeriod(lines: Stripe.InvoiceLineItem[]): { start: number; end: number } | null {
  const subscriptionLines = lines.filter((l) => l.parent?.subscription_item_details && !l.parent.subscription_item_details.proration && l.amount > 0);
  const use = subscriptionLines.length > 0 ? subscriptionLines : lines.filter((l) => l.amount > 0);
  if (use.length === 0) return null;
  return { start: Math.min(...use.map((l) => l.period.start)) * 1000, end: Math.max(...use.map((l) => l.period.end)) * 1000 };
}

/**
 * @param opts.check called as soon as the dispute and the customer's now are known, before the
 *   invoice, the access log and the terms are read: a dispute that takes no evidence is refused
 *   without the rest of the calls.
 */
export async function buildEvidence(
  deps: EvidenceDeps,
  disputeId: string,
  from: Catalog = defaultCatalog,
  opts: { check?: (d: Pick<DisputeEvidence, "dispute" | "customerNow">) => void } = {},
): Promise<DisputeEvidence> {
  const { stripe, db } = deps;
  const dispute = await retrieveDispute(stripe, disputeId);
  const { charge, invoiceId } = await disputedCharge(stripe, dispute);
  const chargeId = charge.id;
  const customerOf = async (id: string) => {
    const fetched = await stripe.customers.retrieve(id);
    const customer = fetched.deleted ? null : fetched;
    const customerNow = await clockReader(deps)(customer ? idOf(customer.test_clock) : null);
    opts.check?.({ dispute, customerNow });
    return { customer, customerNow };
  };
  const early = idOf(charge.customer);
  const fromCharge = early ? await customerOf(early) : null;
  if (!invoiceId) {
    throw new DomainError(
      "conflict",
      `The disputed charge ${chargeId} paid no invoice, so the worker has no service period or access log to show for it; answer this dispute in the Stripe dashboard.`,
      {
        errors: [{ field: "id", message: "the disputed charge paid no invoice" }],
      },
    );
  }
  const invoice = await stripe.invoices.retrieve(invoiceId);
  const lines = await everyInvoiceLine(stripe, invoice);
  const period = servicePeriod(lines);
  if (!period)
    throw new DomainError("conflict", `The disputed invoice ${invoiceId} has no paid line with a service period.`, {
      errors: [{ field: "id", message: "the disputed invoice has no service period" }],
    });

  const customerId = idOf(invoice.customer)!;
  const { customer, customerNow } = fromCharge && early === customerId ? fromCharge : await customerOf(customerId);
  const userId = customer?.metadata.user_id ?? invoice.parent?.subscription_details?.metadata?.user_id ?? null;

  const access = userId ? await accessActivity(db, { userId, from: period.start, to: period.end }) : { allowed: 0, firstAt: null, lastAt: null };
  const days = userId ? await accessByDay(db, { userId, from: period.start, to: period.end }) : [];
  const priorPayments = await earlierUndisputedPayments(deps, customerId, invoiceId, invoice.created * 1000);

  const subscriptionLine = lines.find((l) => l.parent?.subscription_item_details && l.amount > 0) ?? lines[0];
  const price = subscriptionLine?.pricing?.price_details?.price;
  const product = await describeProduct(stripe, typeof price === "string" ? price : (price?.id ?? null), from);
  const terms = await termsShown(stripe, idOf(invoice.parent?.subscription_details?.subscription ?? null), from);
  const service = `${instant(period.start)} to ${instant(period.end)}`;
  const summary = [
    `Customer ${customer?.email ?? customerId} signed up on ${customer ? instant(customer.created * 1000) : "an unknown date (the customer was deleted)"}.`,
    `The disputed payment (invoice ${invoiceId}, ${money(invoice.amount_paid, invoice.currency)}) paid for the service period ${service}.`,
    access.allowed > 0
      ? `In that period the customer's access was checked and allowed ${access.allowed} times, first at ${instant(access.firstAt!)}, last at ${instant(access.lastAt!)} (see the access activity log).`
      : "In that period the customer's access was not checked.",
    priorPaymentsText(priorPayments),
    `${terms.shown} "${terms.text}"`,
  ].join("\n\n");

  const evidence: Evidence = {
    ...(customer?.email ? { customer_email_address: customer.email } : {}),
    ...(customer?.name ? { customer_name: customer.name } : {}),
    ...(product ? { product_description: product } : {}),
    // Stripe's service_date is when the service began; the whole period is in the texts.
    service_date: instant(period.start),
    access_activity_log: accessLogText(userId, access, days, period),
    cancellation_policy_disclosure: `${terms.shown} "${terms.cancellation}"`,
    refund_policy_disclosure: `${terms.shown} "${terms.refund}"`,
    uncategorized_text: summary.slice(0, EVIDENCE_TEXT_LIMIT),
  };
  return { dispute, invoiceId, userId, customerNow, period, access, priorPayments, evidence };
}

/**
 * The terms as the customer saw them: the text on the completed Checkout session that started the
 * subscription (Stripe keeps its `custom_text.submit`), said to be shown there and when. A
 * subscription started otherwise (the API, the dashboard) or before Checkout carried the terms
 * gets the catalog's terms, without the claim that they were shown.
 */
async function termsShown(stripe: Stripe, subscriptionId: string | null, from: Catalog): Promise<{ shown: string; text: string; cancellation: string; refund: string }> {
  const current = from.policy.terms;
  const session = subscriptionId ? (await stripe.checkout.sessions.list({ subscription: subscriptionId, status: "complete", limit: 1 })).data[0] : undefined;
  const message = session?.custom_text.submit?.message;
  if (session && message) {
    const shown = `Shown on the Stripe Checkout page (session ${session.id}, opened ${instant(session.created * 1000)}), directly above the pay button, before the customer subscribed:`;
    // The parts of the text shown, when they are today's; else the whole text as shown, in each.
    const same = message === checkoutTermsText(current);
    return { shown, text: message, cancellation: same ? current.cancellation : message, refund: same ? current.refund : message };
  }
  return { shown: "Our terms (this subscription was not started through Checkout, which shows them above the pay button):", text: checkoutTermsText(current), ...current };
}

/** "Federal Job Advisor Mobile, billed per month: ..." from the catalog price the invoice billed. */
async function describeProduct(stripe: Stripe, priceId: string | null, from: Catalog): Promise<string | null> {
  if (!priceId) return null;
  const price = await stripe.prices.retrieve(priceId);
  const found = catalogPriceOf(price, from);
  if (!found) return null;
  const features = found.tier.features.map((k) => from.features.find((f) => f.key === k)?.description ?? k);
  return `${planName(found.tier.key, from)}, a subscription billed per ${periodLabel(found.price.billingCycle)}, used online: ${features.join("; ")}.`;
}

/**
 * The customer's paid invoices before the disputed one, from the mirror, without those whose
 * charge is itself disputed and those whose payment was given back in full (refunded, or credited
 * by credit notes to the balance or out of band): payments the cardholder made, kept and did not contest.
 */
async function earlierUndisputedPayments(deps: EvidenceDeps, customerId: string, invoiceId: string, before: number): Promise<PriorPayment[]> {
  const rows = await deps.db
    .select({ id: invoices.id, amount: invoices.amountPaid, currency: invoices.currency, paidAt: invoices.paidAt })
    .from(invoices)
    .where(
      and(
        eq(invoices.customerId, customerId),
        eq(invoices.status, "paid"),
        ne(invoices.id, invoiceId),
        gt(invoices.amountPaid, 0),
        isNotNull(invoices.paidAt),
        lt(invoices.paidAt, before),
        notExists(deps.db.select({ id: disputes.id }).from(disputes).where(eq(disputes.invoiceId, invoices.id))),
        // A credit note's refund part is the refund row's amount: counted once, from the refunds.
        lt(
          sql`coalesce((select sum(${refunds.amount}) from ${refunds} where ${refunds.invoiceId} = ${invoices.id} and ${refunds.status} in ('succeeded', 'pending', 'requires_action')), 0)
            + coalesce((select sum(${creditNotes.amount} - ${creditNotes.refundAmount}) from ${creditNotes} where ${creditNotes.invoiceId} = ${invoices.id} and ${creditNotes.status} != 'void'), 0)`,
          invoices.amountPaid,
        ),
      ),
    )
    .orderBy(invoices.paidAt)
    .all();
  return rows.map((r) => ({ invoiceId: r.id, amount: r.amount, currency: r.currency, paidAt: r.paidAt! }));
}
