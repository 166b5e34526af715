/**
 * Brings the mirror to Stripe's current state for a set of objects, in one D1 batch with the
 * audit rows and the entitlement changes it causes. Objects are always fetched from Stripe, so
 * an old or duplicated event can never write old state: the last write is Stripe's latest.
 */
import { and, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Actor, AuditEntry } from "../audit";
import type { Clock } from "../clock";
import { builtOnce, inJsonList } from "../db/built-once";
import type { Db } from "../db/client";
import type { Services } from "../services";
import { entitlementAsRead, guard, rowAsRead, userSeatsAsRead, userSubscriptionsAsRead } from "../db/guard";
import { creditNotes, customers, invoiceLines, invoices, organizations, paymentAttempts, refunds, subscriptionHistory, subscriptions } from "../db/schema";
import { deriveEntitlement, entitlementSummary, membersOfSubscriptions, readEntitlementVersioned, readSeats, sameState, upsertEntitlement, type GraceAnchors, type Seat } from "../entitlements";
import { clockReader } from "../test-clocks";
import { trialEndingStatements } from "./trial-ending";
import { fetchDisputes, writeDisputes } from "./dispute-sync";
import {
  chargeOfInvoice,
  creditNoteRow,
  customerRow,
  historyChanges,
  refundRow,
  idOf,
  invoiceLineRows,
  invoiceRow,
  invoiceSubscriptionId,
  invoiceOfCharge,
  metadataUserId,
  sameRow,
  subscriptionRow,
  type CouponTerms,
  type CreditNoteRow,
  type CustomerRow,
  type RefundRow,
  type OnInvalidUserId,
  type InvoiceRow,
  type SubscriptionRow,
  withEveryLine,
} from "./mirror";
import type { AttemptInput, Fetched, RowChange } from "./batch";
import { isMissing, type Stripe } from "./stripe";

export type { AttemptInput, Fetched } from "./batch";

export interface SyncTargets {
  customers: Set<string>;
  subscriptions: Set<string>;
  invoices: Set<string>;
  /** Charges whose refunds (and their invoice's credit notes) to mirror. */
  charges: Set<string>;
  /** Credit notes: their invoice's charge is mirrored as `charges` is. */
  creditNotes: Set<string>;
  /** Disputes: with the invoice their charge paid (dispute-sync.ts). */
  disputes: Set<string>;
}

export const emptyTargets = (): SyncTargets => ({ customers: new Set(), subscriptions: new Set(), invoices: new Set(), charges: new Set(), creditNotes: new Set(), disputes: new Set() });

/** Why the mirror is being written: recorded on audit and history rows. */
export interface SyncCause {
  actor: Actor;
  /** What made us look (event id, `resync`, `reconcile`). */
  cause: string;
  /** When the change happened in Stripe's time (ms): history rows are dated by it. */
  at: number;
  /** The Stripe event's type when an event made us look: `charge.dispute.closed` dates a dispute's close. */
  eventType?: string;
  /**
   * Skip fetching an object whose mirror row was fetched after this moment: that fetch
   * already saw a state at least as new as whatever made us look.
   */
  freshSince?: number;
}

export async function subscriptionCoupon(stripe: Stripe, clock: Clock, sub: Stripe.Subscription, cache: Map<string, CouponTerms>): Promise<CouponTerms | null> {
  const first = sub.discounts[0];
  if (!first) return null;
  const discount = typeof first === "string" ? null : first;
  let couponRef = discount?.source?.coupon ?? null;
  if (!couponRef && typeof first === "string") {
    const expanded = await stripe.subscriptions.retrieve(sub.id, { expand: ["discounts"] });
    const d = expanded.discounts[0];
    couponRef = d && typeof d !== "string" ? d.source.coupon : null;
  }
  if (!couponRef) return null;
  if (discount?.end != null && discount.end * 1000 <= clock.now()) return null;
  const couponId = typeof couponRef === "string" ? couponRef : couponRef.id;
  let terms = cache.get(couponId);
  if (!terms) {
    const c = typeof couponRef === "string" ? await stripe.coupons.retrieve(couponRef) : couponRef;
    terms = { id: c.id, percentOff: c.percent_off ?? null, amountOff: c.amount_off ?? null, currency: c.currency ?? null };
    cache.set(couponId, terms);
  }
  return terms;
}

type MirrorTable = typeof customers | typeof subscriptions | typeof invoices;
const MIRROR_TABLES: MirrorTable[] = [customers, subscriptions, invoices];

/** Per mirror table, a query for the rows of a list of ids (bound as `ids`), built once per D1 handle. */
const perMirrorTable = <Q>(query: (db: Db, t: MirrorTable) => Q) => new Map(MIRROR_TABLES.map((t) => [t, builtOnce((db) => query(db, t))]));
const rowsOf = perMirrorTable((db, t) =>
  db
    .select()
    .from(t as typeof customers)
    .where(inJsonList(t.id, "ids"))
    .prepare(),
);
const syncedAtOf = perMirrorTable((db, t) => db.select({ id: t.id, syncedAt: t.syncedAt }).from(t).where(inJsonList(t.id, "ids")).prepare());

/** When the mirror last synced each of `ids` it has, by id (one query). */
async function syncedAtById(db: Db, table: MirrorTable, ids: string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await syncedAtOf.get(table)!(db).all({ ids: JSON.stringify(ids) });
  return new Map(rows.map((r) => [r.id, r.syncedAt]));
}

async function freshIds(db: Db, table: MirrorTable, ids: string[], since: number | undefined): Promise<Set<string>> {
  if (since === undefined) return new Set();
  return new Set([...(await syncedAtById(db, table, ids))].filter(([, at]) => at >= since).map(([id]) => id));
}

export const emptyFetched = (): Fetched => ({
  customers: new Map(),
  subscriptions: new Map(),
  invoices: new Map(),
  syncedAt: new Map(),
  deletedInvoices: new Set(),
  charges: new Map(),
  disputes: new Map(),
});

async function fetchAll(ctx: Pick<Services, "db" | "stripe" | "clock">, why: SyncCause, targets: SyncTargets): Promise<Fetched> {
  const out = emptyFetched();
  const coupons = new Map<string, CouponTerms>();
  // Refunds first: the invoice a charge paid joins the invoices to fetch (its credited amount moved).
  for (const id of targets.creditNotes) {
    const note = await ctx.stripe.creditNotes.retrieve(id);
    const invoiceId = idOf(note.invoice)!;
    targets.invoices.add(invoiceId);
    const charge = await chargeOfInvoice(ctx.stripe, invoiceId);
    if (charge) targets.charges.add(charge);
  }
  for (const id of targets.charges) {
    const syncedAt = ctx.clock.now();
    const charge = await ctx.stripe.charges.retrieve(id);
    const invoiceId = await invoiceOfCharge(ctx.stripe, charge);
    const refunds: Stripe.Refund[] = [];
    for await (const r of ctx.stripe.refunds.list({ charge: id, limit: 100 })) refunds.push(r);
    const creditNotes: Stripe.CreditNote[] = [];
    if (invoiceId) for await (const n of ctx.stripe.creditNotes.list({ invoice: invoiceId, limit: 100 })) creditNotes.push(n);
    out.charges.set(id, { charge, invoiceId, refunds, creditNotes, syncedAt });
    if (invoiceId) targets.invoices.add(invoiceId);
  }
  out.disputes = await fetchDisputes(ctx, targets.disputes, targets.invoices);
  const skipInv = await freshIds(ctx.db, invoices, [...targets.invoices], why.freshSince);
  for (const id of targets.invoices) {
    if (skipInv.has(id)) continue;
    const syncedAt = ctx.clock.now();
    const inv = await ctx.stripe.invoices.retrieve(id).catch((e: unknown) => {
      if (isMissing(e)) return null;
      throw e;
    });
    if (!inv) {
      out.deletedInvoices.add(id);
      continue;
    }
    out.invoices.set(id, { inv: await withEveryLine(ctx.stripe, inv), syncedAt });
    // Paying or failing an invoice moves its subscription: look at that too.
    const subId = invoiceSubscriptionId(inv);
    if (subId) targets.subscriptions.add(subId);
    const customerId = idOf(inv.customer);
    if (customerId) targets.customers.add(customerId);
  }
  const skipSub = await freshIds(ctx.db, subscriptions, [...targets.subscriptions], why.freshSince);
  for (const id of targets.subscriptions) {
    if (skipSub.has(id)) continue;
    const syncedAt = ctx.clock.now();
    // Expanded in the same call: the card's expiry costs no request of its own.
    const sub = await ctx.stripe.subscriptions.retrieve(id, { expand: ["default_payment_method"] });
    out.subscriptions.set(id, { sub, coupon: await subscriptionCoupon(ctx.stripe, ctx.clock, sub, coupons), syncedAt });
    targets.customers.add(idOf(sub.customer)!);
  }
  // A subscription past due whose unpaid invoice the mirror has not seen (that invoice's events
  // are still on their way): the invoice too, so the grace starts from it (graceAnchors), not
  // from a period start that may lie weeks back (a failed mid-period upgrade).
  const latest = [...out.subscriptions.values()]
    .filter(({ sub }) => sub.status === "past_due")
    .map(({ sub }) => idOf(sub.latest_invoice ?? null))
    .filter((id): id is string => id !== null && !out.invoices.has(id) && !out.deletedInvoices.has(id));
  const mirrored = await syncedAtById(ctx.db, invoices, latest);
  for (const id of latest.filter((id) => !mirrored.has(id))) {
    const syncedAt = ctx.clock.now();
    const inv = await ctx.stripe.invoices.retrieve(id);
    if (invoiceSubscriptionId(inv) !== null) out.invoices.set(id, { inv, syncedAt });
  }
  // A customer is fetched when an event is about it, or when we have never seen it (so the
  // user id of a subscription that arrived first can still be resolved).
  const customerIds = [...targets.customers];
  const present = await syncedAtById(ctx.db, customers, customerIds);
  for (const id of customerIds) {
    const seen = present.get(id);
    if (seen !== undefined && why.freshSince !== undefined && seen >= why.freshSince) continue;
    out.syncedAt.set(id, ctx.clock.now());
    const c = await ctx.stripe.customers.retrieve(id, { expand: ["invoice_settings.default_payment_method"] });
    out.customers.set(id, c.deleted ? { id, deleted: true } : c);
  }
  return out;
}

const subSummary = (s: SubscriptionRow) => ({
  status: s.status,
  tier: s.tier,
  price: s.priceId,
  quantity: s.quantity,
  discount: s.discount,
  mrr: s.mrr,
  cancel_at_period_end: s.cancelAtPeriodEnd,
  payment_method: s.defaultPaymentMethodId,
  card_expires_at: s.cardExpiresAt,
});
const invSummary = (i: InvoiceRow) => ({ status: i.status, total: i.total, amount_paid: i.amountPaid, amount_remaining: i.amountRemaining, attempt_count: i.attemptCount, currency: i.currency });
const custSummary = (c: CustomerRow) => ({ user_id: c.userId, deleted: c.deleted, country: c.country, state: c.state, payment_method: c.defaultPaymentMethodId, card_expires_at: c.cardExpiresAt });

/**
 * Fetches the targets from Stripe and writes them, with `extra` statements (e.g. marking the
 * event processed) in the same batch, so a crash leaves either all of it or none.
 */
export async function syncObjects(
  deps: Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">,
  why: SyncCause,
  targets: SyncTargets,
  extra: Extra = {},
): Promise<{ changed: number }> {
  const fetched = await fetchAll(deps, why, targets);
  // Stored with the sync's writes (and the event's processed mark) or not at all.
  const emails = extra.trialEnding ? await trialEndingStatements(deps, extra.trialEnding, fetched) : [];
  if (emails.length === 0) return writeObjects(deps, why, fetched, extra);
  return writeObjects(deps, why, fetched, { ...extra, statements: () => [...emails, ...(extra.statements?.() ?? [])] });
}

export interface Extra {
  statements?: () => BatchItem<"sqlite">[];
  attempts?: AttemptInput[];
  /** Audit entries of the request that caused this sync (a plan change, a cancellation). */
  entries?: AuditEntry[];
  /** Subscriptions whose trial-ending email this sync stores (`customer.subscription.trial_will_end`). */
  trialEnding?: string[];
}

/**
 * What each writer below returns: guards for the rows it read (they run first in the batch, see
 * db/guard.ts), the statements it derived from them, and the audit entries that describe those.
 * A batch whose guards all hold changes exactly what its entries say.
 */
interface Part {
  guards: BatchItem<"sqlite">[];
  statements: BatchItem<"sqlite">[];
  entries: AuditEntry[];
}

const part = (): Part => ({ guards: [], statements: [], entries: [] });

function audited(p: Part, why: SyncCause, action: string, type: string, id: string, before: unknown, after: unknown): void {
  // The mirror's rows name who caused the sync; the request's own entry is the one that carries its id.
  p.entries.push({ actor: { type: why.actor.type, id: why.actor.id }, action, subject: { type, id }, before, after });
}

/** Reads the rows of `ids` in one query, keyed by id. */
export async function rowsById<T extends MirrorTable>(db: Db, table: T, ids: string[]): Promise<Map<string, T["$inferSelect"]>> {
  if (ids.length === 0) return new Map();
  const rows = (await rowsOf.get(table)!(db).all({ ids: JSON.stringify(ids) })) as T["$inferSelect"][];
  return new Map(rows.map((r) => [r.id, r]));
}

/** Customers: upserted unless a later fetch already wrote a newer state. */
async function writeCustomers(db: Db, why: SyncCause, fetched: Fetched, now: number, userByCustomer: Map<string, string | null>, onInvalid: OnInvalidUserId): Promise<Part & { reassigned: string[] }> {
  const out = { ...part(), reassigned: [] as string[] };
  const current = await rowsById(db, customers, [...fetched.customers.keys()]);
  for (const [id, user] of [...current].map(([id, r]) => [id, r.userId] as const)) userByCustomer.set(id, user);
  for (const [id, c] of fetched.customers) {
    const before = current.get(id);
    out.guards.push(guard(db, rowAsRead("customers", id, before?.syncedAt)));
    const syncedAt = fetched.syncedAt.get(id) ?? now;
    const row: CustomerRow =
      "deleted" in c && c.deleted === true
        ? {
            ...(before ?? { id, userId: null, email: null, name: null, country: null, state: null, currency: null, testClock: null, createdAt: now }),
            defaultPaymentMethodId: null,
            cardExpiresAt: null,
            deleted: true,
            syncedAt,
          }
        : customerRow(c as Stripe.Customer, syncedAt, before?.userId ?? null, onInvalid);
    // A fetch that started later has already written a newer state: keep it.
    if (before && before.syncedAt > syncedAt) continue;
    userByCustomer.set(id, row.userId);
    if (sameRow(before, row)) {
      out.statements.push(
        db
          .update(customers)
          .set({ syncedAt })
          .where(and(eq(customers.id, id), lt(customers.syncedAt, syncedAt))),
      );
      continue;
    }
    out.statements.push(
      db
        .insert(customers)
        .values(row)
        .onConflictDoUpdate({ target: customers.id, set: row, setWhere: lte(customers.syncedAt, sql`excluded.synced_at`) }),
    );
    // Customers whose user id just became known: their user-less subscriptions follow.
    if (before && before.userId !== row.userId && row.userId !== null) out.reassigned.push(id);
    audited(out, why, before ? "customer.updated" : "customer.created", "customer", id, before ? custSummary(before) : undefined, custSummary(row));
  }
  return out;
}

/** The user ids of customers that fetched objects point to but that were not fetched themselves. */
async function loadMissingUsers(db: Db, fetched: Fetched, userByCustomer: Map<string, string | null>): Promise<Part> {
  const out = part();
  const referenced = [...fetched.subscriptions.values()].map((f) => idOf(f.sub.customer)!).concat([...fetched.invoices.values()].map((f) => idOf(f.inv.customer)!));
  const missing = [...new Set(referenced)].filter((id) => !userByCustomer.has(id));
  const found = await rowsById(db, customers, missing);
  for (const id of missing) {
    const row = found.get(id);
    if (row) userByCustomer.set(id, row.userId);
    out.guards.push(guard(db, rowAsRead("customers", id, row?.syncedAt)));
  }
  return out;
}

/** Subscriptions and their history rows; returns the rows as they stand after this batch. */
async function writeSubscriptions(
  db: Db,
  why: SyncCause,
  fetched: Fetched,
  userByCustomer: Map<string, string | null>,
  onInvalid: OnInvalidUserId,
): Promise<Part & { after: Map<string, SubscriptionRow>; formerUsers: Set<string>; changed: RowChange<SubscriptionRow>[] }> {
  const out = { ...part(), after: new Map<string, SubscriptionRow>(), formerUsers: new Set<string>(), changed: [] as RowChange<SubscriptionRow>[] };
  const current = await rowsById(db, subscriptions, [...fetched.subscriptions.keys()]);
  for (const [id, { sub, coupon, syncedAt }] of fetched.subscriptions) {
    const before = current.get(id);
    out.guards.push(guard(db, rowAsRead("subscriptions", id, before?.syncedAt)));
    if (before && before.syncedAt > syncedAt) {
      out.after.set(id, before);
      continue;
    }
    const userId = metadataUserId(sub, onInvalid) ?? userByCustomer.get(idOf(sub.customer)!) ?? before?.userId ?? null;
    const row = subscriptionRow(sub, userId, coupon, syncedAt);
    out.after.set(id, row);
    if (before?.userId && before.userId !== row.userId) out.formerUsers.add(before.userId);
    if (sameRow(before, row)) {
      out.statements.push(
        db
          .update(subscriptions)
          .set({ syncedAt })
          .where(and(eq(subscriptions.id, id), lt(subscriptions.syncedAt, syncedAt))),
      );
      continue;
    }
    out.statements.push(
      db
        .insert(subscriptions)
        .values(row)
        .onConflictDoUpdate({ target: subscriptions.id, set: row, setWhere: lte(subscriptions.syncedAt, sql`excluded.synced_at`) }),
    );
    out.changed.push({ before, after: row });
    const changes = historyChanges(before, row);
    if (changes.length > 0) {
      out.statements.push(
        db.insert(subscriptionHistory).values({
          subscriptionId: id,
          customerId: row.customerId,
          userId: row.userId,
          at: why.at,
          status: row.status,
          tier: row.tier,
          priceId: row.priceId,
          unitAmount: row.unitAmount,
          currency: row.currency,
          quantity: row.quantity,
          discount: row.discount,
          mrr: row.mrr,
          changes: changes.join(","),
          cause: why.cause,
        }),
      );
    }
    audited(out, why, before ? "subscription.updated" : "subscription.created", "subscription", id, before ? subSummary(before) : undefined, subSummary(row));
  }
  return out;
}

/** Subscriptions that arrived before their customer's user id was known now get it. */
async function assignUsers(db: Db, why: SyncCause, reassigned: string[], after: Map<string, SubscriptionRow>, userByCustomer: Map<string, string | null>): Promise<Part> {
  const out = part();
  if (reassigned.length === 0) return out;
  for (const s of await db
    .select()
    .from(subscriptions)
    .where(and(inArray(subscriptions.customerId, reassigned), isNull(subscriptions.userId)))
    .all()) {
    if (after.has(s.id)) continue;
    const userId = userByCustomer.get(s.customerId) ?? null;
    after.set(s.id, { ...s, userId });
    out.guards.push(guard(db, sql`${rowAsRead("subscriptions", s.id, s.syncedAt)} and (select user_id from subscriptions where id = ${s.id}) is null`));
    out.statements.push(db.update(subscriptions).set({ userId }).where(eq(subscriptions.id, s.id)));
    audited(out, why, "subscription.updated", "subscription", s.id, { user_id: null }, { user_id: userId });
  }
  return out;
}

/** Invoices; also returns the users they belong to (an invoice moves its user's grace). */
async function writeInvoices(
  db: Db,
  why: SyncCause,
  fetched: Fetched,
  subs: Map<string, SubscriptionRow>,
  userByCustomer: Map<string, string | null>,
): Promise<Part & { users: Set<string>; changed: RowChange<InvoiceRow>[] }> {
  const out = { ...part(), users: new Set<string>(), changed: [] as RowChange<InvoiceRow>[] };
  const ids = [...fetched.invoices.keys()];
  const current = await rowsById(db, invoices, ids);
  const mirroredLines = new Map(
    ids.length
      ? (await db.select({ id: invoiceLines.invoiceId, n: sql<number>`count(*)` }).from(invoiceLines).where(inArray(invoiceLines.invoiceId, ids)).groupBy(invoiceLines.invoiceId).all()).map((r) => [
          r.id,
          Number(r.n),
        ])
      : [],
  );
  for (const [id, { inv, syncedAt }] of fetched.invoices) {
    const before = current.get(id);
    out.guards.push(guard(db, rowAsRead("invoices", id, before?.syncedAt)));
    if (before && before.syncedAt > syncedAt) continue;
    const subId = invoiceSubscriptionId(inv);
    const fromSub = subId ? subs.get(subId)?.userId : undefined;
    const userId = fromSub ?? userByCustomer.get(idOf(inv.customer)!) ?? before?.userId ?? null;
    const row = invoiceRow(inv, userId, syncedAt);
    if (userId !== null && row.subscriptionId !== null) out.users.add(userId);
    // A finalized invoice's lines never change: written while it was a draft, or when fewer are
    // mirrored than it has (an invoice mirrored before lines were, or with only its first ten,
    // gains them on its next fetch or a resync); not re-sent at every sync.
    const lines = invoiceLineRows(inv);
    const linesWanted = before?.status === "draft" || (mirroredLines.get(id) ?? 0) < lines.length;
    // D1 binds at most 100 parameters a statement: 7 columns × 14 lines.
    for (let i = 0; linesWanted && i < lines.length; i += 14)
      out.statements.push(
        db
          .insert(invoiceLines)
          .values(lines.slice(i, i + 14))
          .onConflictDoNothing(),
      );
    if (sameRow(before, row)) {
      out.statements.push(
        db
          .update(invoices)
          .set({ syncedAt })
          .where(and(eq(invoices.id, id), lt(invoices.syncedAt, syncedAt))),
      );
      continue;
    }
    out.statements.push(
      db
        .insert(invoices)
        .values(row)
        .onConflictDoUpdate({ target: invoices.id, set: row, setWhere: lte(invoices.syncedAt, sql`excluded.synced_at`) }),
    );
    out.changed.push({ before, after: row });
    audited(out, why, before ? "invoice.updated" : "invoice.created", "invoice", id, before ? invSummary(before) : undefined, invSummary(row));
  }
  return out;
}

const refundSummary = (r: RefundRow) => ({ amount: r.amount, currency: r.currency, status: r.status, reason: r.reason, invoice: r.invoiceId, credit_note: r.creditNoteId });
const creditNoteSummary = (n: CreditNoteRow) => ({ amount: n.amount, refund_amount: n.refundAmount, currency: n.currency, status: n.status, invoice: n.invoiceId });

/**
 * The refunds of each fetched charge and the credit notes of the invoice it paid, each upserted
 * unless a later fetch already wrote a newer state. A refund's user and subscription are its
 * invoice's, as this batch writes it.
 */
async function writeRefunds(db: Db, why: SyncCause, fetched: Fetched, userByCustomer: Map<string, string | null>): Promise<Part & { changed: RowChange<RefundRow>[] }> {
  const out = { ...part(), changed: [] as RowChange<RefundRow>[] };
  const refundIds = [...fetched.charges.values()].flatMap((c) => c.refunds.map((r) => r.id));
  const noteIds = [...fetched.charges.values()].flatMap((c) => c.creditNotes.map((n) => n.id));
  const currentRefunds = new Map(refundIds.length ? (await db.select().from(refunds).where(inArray(refunds.id, refundIds)).all()).map((r) => [r.id, r]) : []);
  const currentNotes = new Map(noteIds.length ? (await db.select().from(creditNotes).where(inArray(creditNotes.id, noteIds)).all()).map((n) => [n.id, n]) : []);
  const invoiceUsers = new Map<string, { userId: string | null; subscriptionId: string | null }>();
  const invoiceIds = [...fetched.charges.values()].map((c) => c.invoiceId).filter((id): id is string => id !== null && !fetched.invoices.has(id));
  for (const r of invoiceIds.length
    ? await db.select({ id: invoices.id, userId: invoices.userId, subscriptionId: invoices.subscriptionId }).from(invoices).where(inArray(invoices.id, invoiceIds)).all()
    : []) {
    invoiceUsers.set(r.id, { userId: r.userId, subscriptionId: r.subscriptionId });
  }
  for (const { charge, invoiceId, refunds: list, creditNotes: notes, syncedAt } of fetched.charges.values()) {
    const inv = invoiceId ? fetched.invoices.get(invoiceId)?.inv : undefined;
    const customerId = idOf(charge.customer);
    const stored = invoiceId ? invoiceUsers.get(invoiceId) : undefined;
    const userId = (customerId ? userByCustomer.get(customerId) : null) ?? stored?.userId ?? null;
    const subscriptionId = inv ? invoiceSubscriptionId(inv) : (stored?.subscriptionId ?? null);
    for (const n of notes) {
      const row = creditNoteRow(n, userId, syncedAt);
      const before = currentNotes.get(n.id);
      // `before` decides credit_note.created vs .updated: a concurrent sync of the same charge must not both say created.
      out.guards.push(guard(db, rowAsRead("credit_notes", n.id, before?.syncedAt)));
      if ((before && before.syncedAt > syncedAt) || sameRow(before, row)) continue;
      out.statements.push(
        db
          .insert(creditNotes)
          .values(row)
          .onConflictDoUpdate({ target: creditNotes.id, set: row, setWhere: lte(creditNotes.syncedAt, sql`excluded.synced_at`) }),
      );
      audited(out, why, before ? "credit_note.updated" : "credit_note.created", "credit_note", n.id, before ? creditNoteSummary(before) : undefined, creditNoteSummary(row));
    }
    for (const r of list) {
      const note = notes.find((n) => n.refunds.some((x) => idOf(x.refund) === r.id));
      const row = refundRow(r, { invoiceId, subscriptionId, customerId, userId, creditNote: note ?? null }, syncedAt);
      const before = currentRefunds.get(r.id);
      // `before` decides refund.created vs .updated, its outbound event and audit row: as for credit notes.
      out.guards.push(guard(db, rowAsRead("refunds", r.id, before?.syncedAt)));
      if ((before && before.syncedAt > syncedAt) || sameRow(before, row)) continue;
      out.statements.push(
        db
          .insert(refunds)
          .values(row)
          .onConflictDoUpdate({ target: refunds.id, set: row, setWhere: lte(refunds.syncedAt, sql`excluded.synced_at`) }),
      );
      out.changed.push({ before, after: row });
      audited(out, why, before ? "refund.updated" : "refund.created", "refund", r.id, before ? refundSummary(before) : undefined, refundSummary(row));
    }
  }
  return out;
}

/** Draft invoices Stripe deleted leave the mirror. */
async function deleteInvoices(db: Db, why: SyncCause, ids: Set<string>): Promise<Part> {
  const out = part();
  const current = await rowsById(db, invoices, [...ids]);
  for (const [id, before] of current) {
    out.guards.push(guard(db, rowAsRead("invoices", id, before.syncedAt)));
    out.statements.push(db.delete(invoices).where(eq(invoices.id, id)));
    audited(out, why, "invoice.deleted", "invoice", id, invSummary(before), undefined);
  }
  return out;
}

/**
 * The first failed attempt of the oldest still-unpaid invoice of each past-due subscription, as
 * it will stand after this batch: invoices and attempts written in it count, so the failure an
 * event reports starts the grace in the same batch that records it.
 */
async function graceAnchors(db: Db, subs: SubscriptionRow[], fetched: Fetched, attempts: AttemptInput[]): Promise<{ anchors: GraceAnchors; guards: BatchItem<"sqlite">[] }> {
  const pastDue = subs.filter((s) => s.status === "past_due").map((s) => s.id);
  const anchors = new Map<string, number>();
  if (pastDue.length === 0) return { anchors, guards: [] };
  const stored = await db
    .select({ id: invoices.id, subscriptionId: invoices.subscriptionId, status: invoices.status, createdAt: invoices.createdAt, syncedAt: invoices.syncedAt })
    .from(invoices)
    .where(inArray(invoices.subscriptionId, pastDue))
    .all();
  const status = new Map<string, { subscriptionId: string; status: string; createdAt: number }>(
    stored.map((i) => [i.id, { subscriptionId: i.subscriptionId!, status: i.status, createdAt: i.createdAt }]),
  );
  for (const { inv } of fetched.invoices.values()) {
    const subId = invoiceSubscriptionId(inv);
    if (subId && pastDue.includes(subId)) status.set(inv.id, { subscriptionId: subId, status: inv.status ?? "draft", createdAt: inv.created * 1000 });
  }
  const unpaid = [...status].filter(([, i]) => i.status === "open").map(([id]) => id);
  const failures =
    unpaid.length === 0
      ? []
      : await db
          .select({ invoiceId: paymentAttempts.invoiceId, at: paymentAttempts.at })
          .from(paymentAttempts)
          .where(and(inArray(paymentAttempts.invoiceId, unpaid), eq(paymentAttempts.outcome, "failed")))
          .all();
  for (const a of attempts) if (a.outcome === "failed" && unpaid.includes(a.invoiceId)) failures.push({ invoiceId: a.invoiceId, at: a.at });
  for (const f of failures) {
    const subId = status.get(f.invoiceId)!.subscriptionId;
    anchors.set(subId, Math.min(anchors.get(subId) ?? Number.POSITIVE_INFINITY, f.at));
  }
  // Past due before the failure's own event is processed (the subscription's event came first):
  // the oldest unpaid invoice's creation, a Stripe-side time just before its first attempt. The
  // period start instead could lie weeks back (a failed mid-period upgrade) and suspend at once.
  for (const id of unpaid) {
    const { subscriptionId, createdAt } = status.get(id)!;
    if (!failures.some((f) => status.get(f.invoiceId)!.subscriptionId === subscriptionId)) anchors.set(subscriptionId, Math.min(anchors.get(subscriptionId) ?? Number.POSITIVE_INFINITY, createdAt));
  }
  return { anchors, guards: stored.map((i) => guard(db, rowAsRead("invoices", i.id, i.syncedAt))) };
}

/**
 * The users whose subscription invoices the attempts are on: the invoice's, its subscription's
 * (an invoice written before its customer had a user keeps a null one), else the customer's.
 */
async function usersOfAttempts(db: Db, attempts: AttemptInput[], userByCustomer: Map<string, string | null>): Promise<string[]> {
  if (attempts.length === 0) return [];
  const rows = await db
    .select({ invoiceUser: invoices.userId, subscriptionUser: subscriptions.userId })
    .from(invoices)
    .innerJoin(subscriptions, eq(subscriptions.id, invoices.subscriptionId))
    .where(
      inArray(
        invoices.id,
        attempts.map((a) => a.invoiceId),
      ),
    )
    .all();
  const users = rows.flatMap((r) => [r.invoiceUser, r.subscriptionUser]);
  for (const a of attempts) users.push(userByCustomer.get(a.customerId) ?? null);
  return users.filter((u): u is string => u !== null);
}

/**
 * A seat taken or given back in the same batch as the entitlement it changes
 * (organizations/members.ts): the user's seats are read as they will stand after it.
 */
export interface SeatChange {
  userId: string;
  orgId: string;
  held: boolean;
}

/** The entitlement of every user a changed subscription belongs to (or belonged to), or whose seat it grants. */
async function writeEntitlements(
  db: Db,
  why: SyncCause,
  subs: Map<string, SubscriptionRow>,
  otherUsers: Set<string>,
  fetched: Fetched,
  attempts: AttemptInput[],
  now: number,
  nowOn: (clock: string | null) => Promise<number>,
  seatChange?: SeatChange,
): Promise<Part> {
  const out = part();
  // An organization's subscription has no user of its own: its members' seats follow it.
  const seatHolders = await membersOfSubscriptions(
    db,
    [...subs.values()].filter((s) => s.userId === null).map((s) => s.id),
  );
  const users = new Set([...[...subs.values()].map((s) => s.userId), ...otherUsers, ...seatHolders].filter((u): u is string => u !== null));
  for (const userId of users) {
    const stored = await db.select().from(subscriptions).where(eq(subscriptions.userId, userId)).all();
    out.guards.push(guard(db, userSubscriptionsAsRead(userId, stored)));
    const held = await readSeats(db, userId);
    out.guards.push(
      guard(
        db,
        userSeatsAsRead(
          userId,
          held.map((h) => ({ orgId: h.orgId, syncedAt: h.subscription?.syncedAt ?? null })),
        ),
      ),
    );
    const seats = await seatsAfter(db, held, subs, seatChange?.userId === userId ? seatChange : undefined);
    const mine = [...stored.filter((s) => !subs.has(s.id)), ...[...subs.values()].filter((s) => s.userId === userId)];
    const { anchors, guards } = await graceAnchors(db, mine, fetched, attempts);
    out.guards.push(...guards);
    const { state: prior, version } = await readEntitlementVersioned(db, userId);
    out.guards.push(guard(db, entitlementAsRead(userId, version)));
    // The grace and a suspension's date are reckoned on the time the user lives on (their test
    // clock's, in test mode); nothing else in the derivation reads the time, so the clock is read
    // only when one of those is in play.
    const timed = mine.some((s) => s.status === "past_due" || s.status === "unpaid" || s.status === "paused");
    const userNow = timed ? await nowOn(mine.find((s) => s.testClock !== null)?.testClock ?? null) : now;
    const next = deriveEntitlement(userId, mine, prior, userNow, anchors, undefined, seats);
    if (sameState(prior, next)) continue;
    out.statements.push(...upsertEntitlement(db, next, now, version, prior));
    audited(out, why, "entitlement.changed", "user", userId, entitlementSummary(prior), entitlementSummary(next));
  }
  return out;
}

/** The user's seats as they stand after this batch: its subscription rows, and the seat it takes or gives back. */
async function seatsAfter(db: Db, held: Seat[], subs: Map<string, SubscriptionRow>, change: SeatChange | undefined): Promise<Seat[]> {
  const seats = held
    .filter((h) => !(change && !change.held && h.orgId === change.orgId))
    .map((h) => ({ orgId: h.orgId, subscription: (h.subscription && subs.get(h.subscription.id)) ?? h.subscription }));
  if (change?.held && !seats.some((h) => h.orgId === change.orgId)) {
    const [org] = await db
      .select({ subscription: subscriptions })
      .from(organizations)
      .leftJoin(subscriptions, eq(subscriptions.id, organizations.subscriptionId))
      .where(eq(organizations.orgId, change.orgId))
      .all();
    seats.push({ orgId: change.orgId, subscription: org?.subscription ?? null });
  }
  return seats;
}

/**
 * The guards, writes and audit entries that bring users' entitlements up to date with the mirror
 * as it stands (and with a seat taken or given back in the same batch), for a writer outside a
 * sync: organizations/members.ts puts them in the batch that changes the seat.
 */
export async function entitlementPart(
  deps: Pick<Services, "db" | "stripe" | "clock" | "log">,
  why: SyncCause,
  userIds: string[],
  seatChange?: SeatChange,
): Promise<{ guards: BatchItem<"sqlite">[]; statements: BatchItem<"sqlite">[]; entries: AuditEntry[] }> {
  return writeEntitlements(deps.db, why, new Map(), new Set(userIds), emptyFetched(), [], deps.clock.now(), clockReader(deps), seatChange);
}

/** Writes objects already fetched from Stripe (by id, or by a list during a resync). */
export async function writeObjects(
  // announceOutbound is optional so callers' narrower deps still type-check; every Services has it.
  deps: Pick<Services, "db" | "clock" | "audit" | "appBaseUrl" | "dunning" | "syncFollowers" | "stripe" | "log"> & Partial<Pick<Services, "announceOutbound">>,
  why: SyncCause,
  fetched: Fetched,
  extra: Extra = {},
): Promise<{ changed: number }> {
  const { db } = deps;
  // Outside the commit, which may be rebuilt: each clock is read once per sync.
  const nowOn = clockReader(deps);
  const written = await deps.audit.commit(async () => {
    const now = deps.clock.now();
    const userByCustomer = new Map<string, string | null>();
    const attempts = extra.attempts ?? [];
    // Logged, not thrown: the rest of the object is still Stripe's truth and is mirrored.
    const onInvalid: OnInvalidUserId = (o) => deps.log.log("warn", "Stripe metadata.user_id is not a user id the API can take; ignored, not stored", { cause: why.cause, object: o.type, id: o.id });
    const custs = await writeCustomers(db, why, fetched, now, userByCustomer, onInvalid);
    const missing = await loadMissingUsers(db, fetched, userByCustomer);
    const subs = await writeSubscriptions(db, why, fetched, userByCustomer, onInvalid);
    const assigned = await assignUsers(db, why, custs.reassigned, subs.after, userByCustomer);
    const invs = await writeInvoices(db, why, fetched, subs.after, userByCustomer);
    const refs = await writeRefunds(db, why, fetched, userByCustomer);
    const disps = await writeDisputes(db, why, fetched, userByCustomer, nowOn);
    const parts: Part[] = [
      custs,
      missing,
      subs,
      assigned,
      invs,
      await deleteInvoices(db, why, fetched.deletedInvoices),
      refs,
      disps,
      { guards: [], statements: attempts.map((a) => db.insert(paymentAttempts).values(a).onConflictDoNothing()), entries: [] },
      // A former owner loses the subscription; an invoice's user may gain or end a grace, and so
      // may the user of a failed attempt recorded here, whose invoice and subscription may have
      // been skipped as fresh: the failure can move the grace's anchor back.
      await writeEntitlements(db, why, subs.after, new Set([...subs.formerUsers, ...invs.users, ...(await usersOfAttempts(db, attempts, userByCustomer))]), fetched, attempts, now, nowOn),
    ];
    // Dunning cases open with the failure they record and close with the payment (dunning/sync-follower.ts).
    for (const follow of deps.syncFollowers)
      parts.push({
        guards: [],
        statements: await follow(deps, { at: why.at, fetched, subs: subs.after, attempts, userByCustomer, changed: { subscriptions: subs.changed, invoices: invs.changed, refunds: refs.changed } }),
        entries: [],
      });
    // Guards first: they must see the rows as read, before this batch's own writes.
    const statements = [...parts.flatMap((p) => p.guards), ...parts.flatMap((p) => p.statements)];
    const entries = [...(extra.entries ?? []), ...parts.flatMap((p) => p.entries)];
    statements.push(...(extra.statements?.() ?? []));
    return { statements, entries, result: { changed: entries.length } };
  });
  // The followers may have written outbound events: their deliveries go now, not at the minute sweep.
  if (written.changed > 0) deps.announceOutbound?.();
  return written;
}
