/**
 * Processing one stored event: work out which Stripe objects it is about, fetch them, and write
 * them with the event's "processed" mark in one batch. Failures are retried by the sweep with
 * backoff and parked after the limit; nothing is dropped.
 */
import { and, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AuditEntry } from "../audit";
import { subscriptions } from "../db/schema";
import { describeError } from "../log";
import type { Services } from "../services";
import { checkoutSessionOf, linkCheckoutUser } from "./checkout-user";
import { isHandledEventType } from "./handled-events";
import { claimEvent, claimEvents, markFailed, markProcessed, type EventRow } from "./events";
import { idOf } from "./mirror";
import type { Stripe } from "./stripe";
import { emptyTargets, syncObjects, type AttemptInput, type SyncTargets } from "./sync";

export type ProcessDeps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers"> &
  Partial<Pick<Services, "eventActions">> & {
    /** Test hook: throw from a named stage to simulate a crash there. */
    fault?: (stage: "after_claim" | "before_commit") => void;
  };

export type ProcessOutcome = "processed" | "retry" | "parked" | "skipped";

/** Whether an event can change the mirror; others are stored (for replay and audit) as processed. */
export function needsProcessing(type: string): boolean {
  return isHandledEventType(type);
}

/** A card's expiry (or the card itself) changed: what the mirror keeps of it may be stale. */
const PAYMENT_METHOD_EVENTS = new Set(["payment_method.attached", "payment_method.detached", "payment_method.updated", "payment_method.automatically_updated"]);

/** The customer a payment method event is about: a detached method no longer names it, its previous attributes do. */
function paymentMethodCustomer(event: Stripe.Event): string | null {
  const pm = event.data.object as Stripe.PaymentMethod;
  const previous = (event.data.previous_attributes ?? {}) as { customer?: string | { id: string } | null };
  return idOf(pm.customer) ?? idOf(previous.customer ?? null);
}

/** The charge a refund event is about (`charge.refunded`, `charge.refund.updated`, `refund.*`), else null. */
export function refundEventCharge(event: Stripe.Event): string | null {
  const obj = event.data.object as { object?: string; id?: string; charge?: string | { id: string } | null };
  if (event.type === "charge.refunded" && obj.object === "charge") return obj.id ?? null;
  if ((event.type.startsWith("refund.") || event.type === "charge.refund.updated") && obj.object === "refund") return idOf(obj.charge ?? null);
  return null;
}

/** @param session for a checkout.session.* event, Stripe's copy of the session (null: none). */
function targetsOf(event: Stripe.Event, session: Stripe.Checkout.Session | null): SyncTargets {
  const t = emptyTargets();
  const obj = event.data.object as unknown as Record<string, unknown> & { id: string };
  if (event.type.startsWith("customer.subscription.")) t.subscriptions.add(obj.id);
  else if (event.type.startsWith("customer.discount.")) {
    const sub = idOf(obj.subscription as string | null);
    if (sub) t.subscriptions.add(sub);
  } else if (event.type.startsWith("customer.") && obj.object === "customer") t.customers.add(obj.id);
  else if (event.type.startsWith("invoice.") && obj.object === "invoice") t.invoices.add(obj.id);
  else if (event.type.startsWith("credit_note.")) t.creditNotes.add(obj.id);
  else if (event.type.startsWith("charge.dispute.") && obj.object === "dispute") t.disputes.add(obj.id);
  else if (refundEventCharge(event)) t.charges.add(refundEventCharge(event)!);
  else if (PAYMENT_METHOD_EVENTS.has(event.type)) {
    const customer = paymentMethodCustomer(event);
    if (customer) t.customers.add(customer);
  } else if (event.type.startsWith("checkout.session.") && session) {
    // Stripe's customer and subscription, not the payload's: the payload only names the session.
    const customer = idOf(session.customer);
    const subscription = idOf(session.subscription);
    if (customer) t.customers.add(customer);
    if (subscription) t.subscriptions.add(subscription);
  }
  return t;
}

/**
 * A subscription that names the payment method as its own default mirrors that card's expiry
 * too, so it is fetched again with the customer. Found in the mirror by customer (indexed).
 */
async function withPaymentMethodSubscriptions(deps: Pick<Services, "db">, event: Stripe.Event, t: SyncTargets): Promise<SyncTargets> {
  if (!PAYMENT_METHOD_EVENTS.has(event.type)) return t;
  const customer = paymentMethodCustomer(event);
  if (!customer) return t;
  const pmId = (event.data.object as Stripe.PaymentMethod).id;
  const rows = await deps.db
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(and(eq(subscriptions.customerId, customer), eq(subscriptions.defaultPaymentMethodId, pmId)))
    .all();
  for (const r of rows) t.subscriptions.add(r.id);
  return t;
}

async function attemptOf(stripe: Stripe, event: Stripe.Event): Promise<AttemptInput[]> {
  if (event.type !== "invoice.payment_failed" && event.type !== "invoice.payment_succeeded") return [];
  const inv = event.data.object as Stripe.Invoice;
  // A signed event of this type whose object is not an invoice names nothing to record (and
  // an undefined id would fail the whole batch's query); the sync skips it the same way.
  if (inv.object !== "invoice" || typeof inv.id !== "string" || !idOf(inv.customer)) return [];
  let declineCode: string | null = null;
  let failureCode: string | null = null;
  if (event.type === "invoice.payment_failed") {
    // The decline code lives on the payment intent of the invoice's latest payment.
    const payments = await stripe.invoicePayments.list({ invoice: inv.id, limit: 10 });
    const pi = payments.data.map((p) => idOf(p.payment.payment_intent ?? null)).find((x): x is string => x !== null);
    if (pi) {
      const intent = await stripe.paymentIntents.retrieve(pi);
      declineCode = intent.last_payment_error?.decline_code ?? null;
      failureCode = intent.last_payment_error?.code ?? null;
    }
  }
  return [
    {
      id: event.id,
      invoiceId: inv.id,
      customerId: idOf(inv.customer)!,
      at: event.created * 1000,
      outcome: event.type === "invoice.payment_failed" ? "failed" : "succeeded",
      amount: inv.amount_due,
      currency: inv.currency,
      attempt: inv.attempt_count,
      declineCode,
      failureCode,
    },
  ];
}

/**
 * What the event makes a domain do in Stripe (a refund ending access cancels the subscription),
 * done before the fetches so the sync mirrors its result with the event's processed mark: the
 * objects it changed join `targets`; its audit entries and own rows are returned.
 */
async function actOn(deps: ProcessDeps, event: Stripe.Event, targets: SyncTargets): Promise<{ entries: AuditEntry[]; own: BatchItem<"sqlite">[]; acted: boolean }> {
  const entries: AuditEntry[] = [];
  const own: BatchItem<"sqlite">[] = [];
  let acted = false;
  for (const act of deps.eventActions ?? []) {
    const done = await act(deps, event);
    for (const id of done.subscriptions) targets.subscriptions.add(id);
    for (const id of done.charges ?? []) targets.charges.add(id);
    entries.push(...done.entries);
    acted ||= done.subscriptions.length > 0 || done.entries.length > 0;
    own.push(...(done.statements ?? []));
  }
  return { entries, own, acted };
}

/**
 * @param parsed the event, when the caller has already parsed the stored payload (the queue
 *   consumer): the body is parsed once per invocation.
 */
export async function processEvent(deps: ProcessDeps, id: string, parsed?: Stripe.Event): Promise<ProcessOutcome> {
  const row = await claimEvent(deps.db, id, deps.clock.now());
  if (!row) return "skipped";
  try {
    deps.fault?.("after_claim");
    const event = parsed?.id === row.id ? parsed : (JSON.parse(row.payload) as Stripe.Event);
    const session = await checkoutSessionOf(deps, event);
    // Before the sync's fetches, so they see the customer with its user id.
    const linkedUser = await linkCheckoutUser(deps, event, session);
    // A replay is asked for because the mirror may be wrong, so it fetches and rewrites every
    // object; otherwise an object fetched since the event arrived is already at least as new.
    // A completed Checkout that names the customer's user may have just changed the customer
    // on Stripe, after the mirror's copy was fetched: refetch that too.
    const freshSince = row.source === "replay" || linkedUser !== null ? {} : { freshSince: row.receivedAt };
    const targets = await withPaymentMethodSubscriptions(deps, event, targetsOf(event, session));
    const { entries, own, acted } = await actOn(deps, event, targets);
    // A subscription an action just changed in Stripe may have been fetched since the event
    // arrived, before the change: it is fetched again, whatever its freshness.
    const fresh = acted ? {} : freshSince;
    await syncObjects(deps, { actor: { type: "stripe", id: event.id }, cause: event.id, at: event.created * 1000, eventType: event.type, ...fresh }, targets, {
      entries,
      attempts: await attemptOf(deps.stripe, event),
      ...(event.type === "customer.subscription.trial_will_end" ? { trialEnding: [(event.data.object as Stripe.Subscription).id] } : {}),
      statements: () => {
        deps.fault?.("before_commit");
        return [...own, markProcessed(deps.db, row, deps.clock.now())];
      },
    });
    return "processed";
  } catch (error) {
    if (error instanceof SimulatedCrash) throw error;
    deps.log.log("warn", "event processing failed; it will be retried", { event: row.id, type: row.type, attempt: row.attempts, error: describeError(error) });
    return (await markFailed(deps.db, row, error, deps.clock.now())) === "parked" ? "parked" : "retry";
  }
}

/**
 * Whether processing an event is only "fetch the objects it names and write them" (with a
 * payment attempt or a trial-ending email): no Checkout session to read, no payment method to
 * look up (the domains' eventActions still run on each, as processEvent runs them). Such
 * events about one customer can share one sync.
 */
export function syncsOnly(type: string): boolean {
  return type.startsWith("invoice.") || type.startsWith("customer.subscription.") || type.startsWith("customer.discount.") || type === "customer.created" || type === "customer.updated";
}

/**
 * Processes events about one customer that arrived in one consumer run (all `syncsOnly`, in
 * Stripe's order) as one: each object they name is fetched and written once, with every event's
 * processed mark in the same batch. A renewal sends five or six events about one invoice and
 * one subscription; processed one by one, each fetched and wrote them again (issue 28).
 *
 * The same as processing them one after another, as far as the mirror can tell: objects are
 * always fetched, so the last write is Stripe's latest either way. The sync is dated by, and
 * its audit rows name, the newest of the events (by `created`); an object is skipped only when
 * it was fetched after the newest of them arrived (freshSince), and none is when a domain acted.
 * A failure leaves each event to the sweep, which then processes it alone.
 * @returns the ids processed.
 */
export async function processTogether(deps: ProcessDeps, events: Stripe.Event[]): Promise<string[]> {
  const order = new Map(events.map((e, i) => [e.id, i]));
  const rows = (
    await claimEvents(
      deps.db,
      events.map((e) => e.id),
      deps.clock.now(),
    )
  ).sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  if (rows.length === 0) return [];
  const claimed = rows.map((row) => ({ row, event: events[order.get(row.id)!]! }));
  try {
    deps.fault?.("after_claim");
    const targets = emptyTargets();
    const attempts: AttemptInput[] = [];
    const trialEnding: string[] = [];
    const entries: AuditEntry[] = [];
    const own: BatchItem<"sqlite">[] = [];
    let acted = false;
    for (const { event } of claimed) {
      const t = targetsOf(event, null);
      for (const key of Object.keys(t) as (keyof SyncTargets)[]) for (const id of t[key]) targets[key].add(id);
      // As processEvent does, so a domain that one day acts on one of these types is not skipped here.
      const done = await actOn(deps, event, targets);
      entries.push(...done.entries);
      own.push(...done.own);
      acted ||= done.acted;
      attempts.push(...(await attemptOf(deps.stripe, event)));
      if (event.type === "customer.subscription.trial_will_end") trialEnding.push((event.data.object as Stripe.Subscription).id);
    }
    // The newest by Stripe's clock, not the last to arrive: a redelivered event can be hours old.
    const newest = claimed.reduce((a, b) => (b.event.created >= a.event.created ? b : a));
    const replay = claimed.some((c) => c.row.source === "replay");
    const freshSince = replay || acted ? {} : { freshSince: Math.max(...claimed.map((c) => c.row.receivedAt)) };
    await syncObjects(deps, { actor: { type: "stripe", id: newest.event.id }, cause: newest.event.id, at: newest.event.created * 1000, eventType: newest.event.type, ...freshSince }, targets, {
      entries,
      attempts,
      ...(trialEnding.length > 0 ? { trialEnding } : {}),
      statements: () => {
        deps.fault?.("before_commit");
        return [...own, ...claimed.map((c) => markProcessed(deps.db, c.row, deps.clock.now()))];
      },
    });
    return claimed.map((c) => c.row.id);
  } catch (error) {
    if (error instanceof SimulatedCrash) throw error;
    deps.log.log("warn", "processing events together failed; each will be retried", { events: claimed.map((c) => c.row.id), types: claimed.map((c) => c.row.type), error: describeError(error) });
    for (const { row } of claimed) await markFailed(deps.db, row, error, deps.clock.now());
    return [];
  }
}

/** Thrown by a test's fault hook to stand for the isolate dying: no bookkeeping runs after it. */
export class SimulatedCrash extends Error {
  override name = "SimulatedCrash";
}

export type { EventRow };
