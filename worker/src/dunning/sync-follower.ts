/**
 * The dunning cases a sync of the mirror opens and closes, in the sync's own batch (a follower of
 * stripe-sync/sync.ts, named in wiring.ts): the failed payment, its invoice and its case land
 * together or not at all.
 */
import { and, eq, inArray, isNull } from "drizzle-orm";
import { customers, dunningCases, invoices, organizations, subscriptions } from "../db/schema";
import type { BatchItem } from "drizzle-orm/batch";
import type { SyncFollower } from "../services";
import { idOf, invoiceSubscriptionId, rowsById, type Stripe } from "../stripe-sync";
import { closeCaseStatements, openCaseStatements, type InvoiceFacts } from "./cases";

/** Opens the dunning cases of failed payments recorded in this batch and closes those that ended. */
export const dunningCasesOfSync: SyncFollower = async (s, { at, fetched, subs, attempts, userByCustomer }) => {
  const out: { statements: BatchItem<"sqlite">[] } = { statements: [] };
  // A customer's clock is Stripe's when this batch fetched it, else the mirror's: the batch of a
  // failed payment often fetches neither the customer nor the subscription (both fresh), and a
  // case opened without its clock would wait on real time forever.
  const failures = attempts.filter((a) => a.outcome === "failed" && typeof a.invoiceId === "string");
  const storedInvoices = await rowsById(
    s.db,
    invoices,
    [...new Set(failures.map((f) => f.invoiceId))].filter((id) => !fetched.invoices.has(id)),
  );
  const wanted = [...fetched.invoices.values()].map(({ inv }) => ({ subscriptionId: invoiceSubscriptionId(inv), customerId: idOf(inv.customer)! })).concat([...storedInvoices.values()]);
  const storedSubs = await rowsById(s.db, subscriptions, [...new Set(wanted.map((w) => w.subscriptionId).filter((id): id is string => id !== null && !subs.has(id)))]);
  const storedCustomers = await rowsById(s.db, customers, [...new Set(wanted.map((w) => w.customerId).filter((id) => !fetched.customers.has(id)))]);
  const clockOf = (customerId: string): string | null => {
    const c = fetched.customers.get(customerId);
    if (c) return !("deleted" in c && c.deleted) ? idOf((c as Stripe.Customer).test_clock ?? null) : null;
    return storedCustomers.get(customerId)?.testClock ?? null;
  };
  const subClock = (subId: string | null): string | null => (subId ? ((subs.get(subId) ?? storedSubs.get(subId))?.testClock ?? null) : null);
  const facts = new Map<string, InvoiceFacts>();
  for (const { inv } of fetched.invoices.values()) {
    const subscriptionId = invoiceSubscriptionId(inv);
    const customerId = idOf(inv.customer)!;
    facts.set(inv.id, {
      id: inv.id,
      subscriptionId,
      customerId,
      userId: (subscriptionId ? subs.get(subscriptionId)?.userId : undefined) ?? userByCustomer.get(customerId) ?? null,
      status: inv.status ?? "draft",
      amountPaid: inv.amount_paid,
      currency: inv.currency,
      testClock: idOf(inv.test_clock ?? null) ?? subClock(subscriptionId) ?? clockOf(customerId),
      nextPaymentAttempt: inv.next_payment_attempt ? inv.next_payment_attempt * 1000 : null,
    });
  }
  for (const row of storedInvoices.values()) {
    facts.set(row.id, {
      id: row.id,
      subscriptionId: row.subscriptionId,
      customerId: row.customerId,
      userId: row.userId,
      status: row.status,
      amountPaid: row.amountPaid,
      currency: row.currency,
      testClock: subClock(row.subscriptionId) ?? clockOf(row.customerId),
      nextPaymentAttempt: null,
    });
  }
  const contact = new Map<string, { email: string | null; name: string | null }>();
  for (const [id, c] of fetched.customers) if (!("deleted" in c && c.deleted)) contact.set(id, { email: (c as Stripe.Customer).email ?? null, name: (c as Stripe.Customer).name ?? null });
  const tier = new Map([...subs].map(([id, r]) => [id, r.tier] as const));
  // An invoice sent to be paid on terms (an organization's seats) is not collected by retrying a
  // card: no dunning case, whatever a payment attempted on its page did. Its reminders are the
  // organization's own (catalog policy.organizations).
  const onTerms = new Set([...fetched.invoices.values()].filter(({ inv }) => inv.collection_method === "send_invoice").map(({ inv }) => inv.id));
  const customerIds = [...new Set(failures.map((f) => f.customerId))];
  const orgCustomers = new Set(
    customerIds.length ? (await s.db.select({ id: organizations.customerId }).from(organizations).where(inArray(organizations.customerId, customerIds)).all()).map((r) => r.id) : [],
  );
  const individual = failures.filter((f) => !onTerms.has(f.invoiceId) && !orgCustomers.has(f.customerId));
  out.statements.push(...(await openCaseStatements(s, individual, (id) => facts.get(id), { contact, tier })));
  const ended = [...fetched.subscriptions.keys()].filter((id) => ["canceled", "incomplete_expired"].includes(subs.get(id)?.status ?? ""));
  out.statements.push(
    ...(await closeCaseStatements(
      s,
      [...fetched.invoices.keys()].map((id) => facts.get(id)!),
      ended,
      at,
      { contact, tier },
    )),
  );
  // Cases opened before their clock was known (by an older worker, or before the mirror had the
  // customer) take it as soon as a sync learns it.
  for (const [id, row] of subs)
    if (row.testClock !== null)
      out.statements.push(
        s.db
          .update(dunningCases)
          .set({ testClock: row.testClock })
          .where(and(eq(dunningCases.subscriptionId, id), isNull(dunningCases.testClock))),
      );
  for (const id of fetched.customers.keys()) {
    const clock = clockOf(id);
    if (clock !== null)
      out.statements.push(
        s.db
          .update(dunningCases)
          .set({ testClock: clock })
          .where(and(eq(dunningCases.customerId, id), isNull(dunningCases.testClock))),
      );
  }
  return out.statements;
};
