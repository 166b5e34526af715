/**
 * The shapes of one sync of the mirror that the domains following it read (services.ts
 * SyncFollower): types only, importing nothing that imports services.ts, so the Services type can
 * name them without an import circle (nor load another folder to check them).
 */
import type { invoices, refunds, subscriptions } from "../db/schema";
import type { Stripe } from "./stripe";

type SubscriptionRow = typeof subscriptions.$inferSelect;
type InvoiceRow = typeof invoices.$inferSelect;
type RefundRow = typeof refunds.$inferSelect;

/** A mirrored row this batch writes with a change, and the row as it was (undefined: new). */
export interface RowChange<Row> {
  before: Row | undefined;
  after: Row;
}

/** A subscription's coupon as the mirror keeps it (stripe-sync/mirror.ts monthlyAmount reads it). */
export interface CouponTerms {
  id: string;
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
}

export interface AttemptInput {
  id: string;
  invoiceId: string;
  customerId: string;
  at: number;
  outcome: "succeeded" | "failed";
  amount: number;
  currency: string;
  attempt: number;
  declineCode: string | null;
  failureCode: string | null;
}

export interface Fetched {
  customers: Map<string, Stripe.Customer | { id: string; deleted: true }>;
  subscriptions: Map<string, { sub: Stripe.Subscription; coupon: CouponTerms | null; syncedAt: number }>;
  invoices: Map<string, { inv: Stripe.Invoice; syncedAt: number }>;
  syncedAt: Map<string, number>;
  /** Draft invoices Stripe no longer has (deleted): removed from the mirror. */
  deletedInvoices: Set<string>;
  /** Charges with their refunds, the invoice they paid and that invoice's credit notes. */
  charges: Map<string, { charge: Stripe.Charge; invoiceId: string | null; refunds: Stripe.Refund[]; creditNotes: Stripe.CreditNote[]; syncedAt: number }>;
  /** Disputes with the charge they dispute, its customer, and the invoice it paid. */
  disputes: Map<string, { dispute: Stripe.Dispute; chargeId: string; customerId: string | null; invoiceId: string | null; syncedAt: number }>;
}

/** What one sync wrote, as a follower sees it: the objects fetched and the rows derived from them. */
export interface SyncedBatch {
  /** When the change happened in Stripe's time (ms). */
  at: number;
  fetched: Fetched;
  /** The subscriptions' rows as this batch writes them. */
  subs: Map<string, SubscriptionRow>;
  attempts: AttemptInput[];
  userByCustomer: Map<string, string | null>;
  /** The subscription, invoice and refund rows whose content this batch changes (the outbound webhooks' subscription.*, invoice.* and refund.* events). */
  changed: { subscriptions: RowChange<SubscriptionRow>[]; invoices: RowChange<InvoiceRow>[]; refunds: RowChange<RefundRow>[] };
}
