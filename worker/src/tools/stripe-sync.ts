/**
 * process_webhook (admin): an agent hands over a Stripe event as JSON. Nothing in the body is
 * trusted: with an `id`, the event itself is fetched from Stripe; without one, the object it
 * names is fetched (and, when Stripe still lists the event about it, that event). Whatever Stripe
 * says then goes through the webhook's own pipeline (store once, processEvent → syncObjects),
 * so this path cannot write anything a signed webhook could not. The public webhook endpoint
 * keeps requiring signatures; this tool is for an operator, by key.
 */
import { and, eq, gt, inArray, max } from "drizzle-orm";
import { z } from "zod";
import { byId, isMissing, requeue, storeEvent, needsProcessing, processEvent, Stripe, emptyTargets, syncObjects } from "../stripe-sync";
import { auditLog, stripeEvents } from "../db/schema";
import { DomainError, invalidInput } from "../errors";
import type { Services } from "../services";
import { DisputeId, EventId } from "../fields";
import type { Actor } from "../audit";
import { defineTool } from "./types";

const ObjectId = z.string().regex(/^[a-z]{2,8}_[A-Za-z0-9_]{1,255}$/, "must be a Stripe object id (in_..., sub_..., cus_..., cs_..., dp_..., issfr_...)");

const Input = z
  .looseObject({
    id: EventId.optional().describe("The event's id: the event is fetched from Stripe by it"),
    type: z
      .string()
      .max(100)
      .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "must be a Stripe event type like invoice.payment_failed")
      .describe("The event type, e.g. invoice.payment_failed"),
    data: z.looseObject({
      object: z.looseObject({
        id: ObjectId.optional().describe("Without an event id, this object is fetched from Stripe"),
        object: z.string().optional(),
      }),
    }),
  })
  .describe("A Stripe event as JSON; only `id`, `type` and `data.object.id` are read, everything else is compared with Stripe and never trusted");

const Change = z.object({ action: z.string(), subject: z.object({ type: z.string(), id: z.string() }), before: z.unknown(), after: z.unknown() });

const Output = z.object({
  event_id: z.string().nullable().describe("The Stripe event processed; null when only the object was synced"),
  type: z.string().describe("The type as Stripe has it"),
  object: z.object({ type: z.string(), id: z.string() }).nullable().describe("The Stripe object the event is about, as Stripe has it"),
  fetched: z.enum(["event", "object"]).describe("What was fetched from Stripe: the event by id, or the object it names"),
  outcome: z
    .enum(["processed", "retry", "parked", "stored"])
    .describe("processed: the pipeline ran and committed; retry/parked: it failed and the sweep retries it (see GET /v1/events); stored: an event type that changes nothing is kept"),
  changes: z.array(Change).describe("What the pipeline changed, as the audit log recorded it; empty when the mirror was already up to date"),
  disagreements: z.array(z.object({ field: z.string(), given: z.unknown(), stripe: z.unknown() })).describe("Where the body differed from Stripe; Stripe's version was used"),
  summary: z.string(),
});

type Kind = "invoice" | "subscription" | "customer" | "checkout_session" | "dispute" | "early_fraud_warning";
const PREFIX: Record<Kind, string> = { invoice: "in_", subscription: "sub_", customer: "cus_", checkout_session: "cs_", dispute: "dp_", early_fraud_warning: "issfr_" };
/** Kinds whose ids fields.ts already has a rule for: that rule, not a second one (a dispute may be du_...). */
const ID_RULE: Partial<Record<Kind, z.ZodType<string>>> = { dispute: DisputeId };
const isIdOf = (kind: Kind, id: string) => ID_RULE[kind]?.safeParse(id).success ?? id.startsWith(PREFIX[kind]);

/** Which object an event type is about, when it can be fetched by the id the body gives. */
function kindOf(type: string): Kind | null {
  if (type.startsWith("invoice.")) return "invoice";
  if (type.startsWith("customer.subscription.")) return "subscription";
  if (type.startsWith("checkout.session.")) return "checkout_session";
  if (/^customer\.(created|updated|deleted)$/.test(type)) return "customer";
  if (type.startsWith("charge.dispute.")) return "dispute";
  if (type.startsWith("radar.early_fraud_warning.")) return "early_fraud_warning";
  return null;
}

async function retrieveEvent(s: Services, id: string): Promise<Stripe.Event> {
  try {
    return await s.stripe.events.retrieve(id);
  } catch (e) {
    if (isMissing(e)) throw new DomainError("not_found", `Stripe has no event ${id} (events are kept for 30 days).`, { errors: [{ field: "id", message: "no such event in Stripe" }] });
    throw e;
  }
}

async function retrieveObject(s: Services, kind: Kind, id: string): Promise<{ id: string; created: number } & Record<string, unknown>> {
  try {
    const o =
      kind === "invoice"
        ? await s.stripe.invoices.retrieve(id)
        : kind === "subscription"
          ? await s.stripe.subscriptions.retrieve(id)
          : kind === "checkout_session"
            ? await s.stripe.checkout.sessions.retrieve(id)
            : kind === "dispute"
              ? await s.stripe.disputes.retrieve(id)
              : kind === "early_fraud_warning"
                ? await s.stripe.radar.earlyFraudWarnings.retrieve(id)
                : await s.stripe.customers.retrieve(id);
    return o as unknown as { id: string; created: number } & Record<string, unknown>;
  } catch (e) {
    if (isMissing(e))
      throw new DomainError("not_found", `Stripe has no ${kind.replace("_", " ")} ${id}.`, { errors: [{ field: "data.object.id", message: `no such ${kind.replace("_", " ")} in Stripe` }] });
    throw e;
  }
}

/** Events Stripe lists when looking for the one about an object: newest first, at most this many. */
const EVENT_SCAN = 500;

/** Stripe's newest event of `type` about the object, so its failure is recorded as the webhook would have; null when Stripe lists none. */
export async function findEvent(s: Services, type: string, objectId: string, since: number): Promise<Stripe.Event | null> {
  let scanned = 0;
  for await (const e of s.stripe.events.list({ type, created: { gte: since }, limit: 100 })) {
    if ((e.data.object as { id?: string }).id === objectId) return e;
    if (++scanned >= EVENT_SCAN) break;
  }
  return null;
}

const SCALAR = (v: unknown) => v === null || ["string", "number", "boolean"].includes(typeof v);

/** Top-level fields of the body's object whose value Stripe has otherwise. */
function disagreements(given: Record<string, unknown>, stripe: Record<string, unknown>, prefix: string) {
  const out: { field: string; given: unknown; stripe: unknown }[] = [];
  for (const [k, v] of Object.entries(given)) {
    if (!SCALAR(v) || !(k in stripe) || !SCALAR(stripe[k])) continue;
    if (stripe[k] !== v) out.push({ field: `${prefix}${k}`, given: v, stripe: stripe[k] });
    if (out.length >= 20) break;
  }
  return out;
}

export type Outcome = "processed" | "retry" | "parked" | "stored";

/**
 * The event Stripe gave us, through the webhook's pipeline: stored once (as reconciliation
 * stores what it fetched), or put back like a replay when it was stored already, then processed.
 */
export async function runEvent(s: Services, event: Stripe.Event): Promise<Outcome> {
  const now = s.clock.now();
  const work = needsProcessing(event.type);
  const stored = await s.db.select({ id: stripeEvents.id }).from(stripeEvents).where(eq(stripeEvents.id, event.id)).get();
  if (!stored) {
    await storeEvent(s.db, { event, payload: JSON.stringify(event), source: "reconcile", receivedAt: now, needsProcessing: work }, now);
    if (!work) return "stored";
  } else {
    if (!work) return "stored";
    const ids = await requeue(s.db, byId(event.id), now);
    if (ids.length === 0) throw new DomainError("conflict", `The event ${event.id} is being processed right now; ask again in a minute.`, { errors: [{ field: "id", message: "being processed" }] });
  }
  const outcome = await processEvent(s, event.id);
  if (outcome === "skipped")
    throw new DomainError("conflict", `The event ${event.id} was taken by another processor; ask again in a minute.`, { errors: [{ field: "id", message: "being processed" }] });
  return outcome;
}

async function auditHead(s: Services): Promise<number> {
  return (
    (
      await s.db
        .select({ seq: max(auditLog.seq) })
        .from(auditLog)
        .get()
    )?.seq ?? 0
  );
}

const parse = (text: string | null) => (text === null ? null : (JSON.parse(text) as unknown));

/** What the pipeline wrote after `since`, as the audit log has it, by the actors that stand for this run. */
async function changesSince(s: Services, since: number, actorIds: string[]) {
  const rows = await s.db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), inArray(auditLog.actorId, actorIds)))
    .orderBy(auditLog.seq)
    .all();
  return rows.filter((r) => !r.action.startsWith("tool.")).map((r) => ({ action: r.action, subject: { type: r.subjectType, id: r.subjectId }, before: parse(r.before), after: parse(r.after) }));
}

async function run(s: Services, input: z.output<typeof Input>, actor: Actor): Promise<z.input<typeof Output>> {
  const givenObject = input.data.object as Record<string, unknown>;
  let event: Stripe.Event | null;
  let fetched: "event" | "object";
  let stripeObject: Record<string, unknown>;
  let kind: Kind | null = null;
  if (input.id !== undefined) {
    event = await retrieveEvent(s, input.id);
    fetched = "event";
    stripeObject = event.data.object as unknown as Record<string, unknown>;
  } else {
    kind = kindOf(input.type);
    if (!kind)
      throw invalidInput(
        "type",
        "needs an event id",
        `Without an event id only invoice.*, customer.subscription.*, checkout.session.*, charge.dispute.*, radar.early_fraud_warning.* and customer.created/updated/deleted events can be processed (their object is fetched by data.object.id); give the id of a ${input.type} event.`,
      );
    const objectId = input.data.object.id;
    if (objectId === undefined) throw invalidInput("data.object.id", "required without an event id", "Give the event's id, or the id of the object it is about in data.object.id.");
    if (!isIdOf(kind, objectId))
      throw invalidInput("data.object.id", `must be a ${kind.replace("_", " ")} id (${PREFIX[kind]}...)`, `A ${input.type} event is about a ${kind.replace("_", " ")}; ${objectId} is not one.`);
    const object = await retrieveObject(s, kind, objectId);
    stripeObject = object;
    event = await findEvent(s, input.type, objectId, object.created);
    fetched = "object";
  }
  const found = [...(event && event.type !== input.type ? [{ field: "type", given: input.type, stripe: event.type }] : []), ...disagreements(givenObject, stripeObject, "data.object.")];
  const since = await auditHead(s);
  let outcome: Outcome;
  let changes;
  if (event) {
    outcome = await runEvent(s, event);
    changes = await changesSince(s, since, [event.id]);
  } else {
    // Stripe lists no such event (older than its 30 days, or none was sent): the object itself
    // is synced, as a resync would, under the caller's name.
    const t = emptyTargets();
    if (kind === "invoice") t.invoices.add(stripeObject.id as string);
    else if (kind === "subscription") t.subscriptions.add(stripeObject.id as string);
    else if (kind === "customer") t.customers.add(stripeObject.id as string);
    else if (kind === "dispute") {
      t.disputes.add(stripeObject.id as string);
      // A dispute is also decided by its policy, as its event would have had it; the actions refetch what they act on.
      for (const act of s.eventActions) for (const id of (await act(s, { type: input.type, data: { object: stripeObject } } as unknown as Stripe.Event)).subscriptions) t.subscriptions.add(id);
    } else if (kind === "early_fraud_warning") {
      // Without its event the warning's policy does not run (the event is what it acts on once): the charge's refunds are mirrored.
      const charge = typeof stripeObject.charge === "string" ? stripeObject.charge : ((stripeObject.charge as { id?: string } | null)?.id ?? null);
      if (charge) t.charges.add(charge);
    } else {
      const ref = (v: unknown) => (typeof v === "string" ? v : ((v as { id?: string } | null)?.id ?? null));
      const customer = ref(stripeObject.customer);
      const subscription = ref(stripeObject.subscription);
      if (customer) t.customers.add(customer);
      if (subscription) t.subscriptions.add(subscription);
    }
    await syncObjects(s, { actor, cause: "tool:process_webhook", at: s.clock.now() }, t);
    outcome = "processed";
    changes = await changesSince(s, since, [actor.id]);
  }
  const subject = event ? { type: "stripe_event", id: event.id } : { type: kind!, id: stripeObject.id as string };
  await s.audit.commit(async () => ({
    statements: [],
    entries: [{ actor, action: "tool.process_webhook", subject, after: { type: input.type, fetched, outcome, changes: changes.length, disagreements: found.length } }],
    result: undefined,
  }));
  const what = event
    ? `Fetched ${fetched === "event" ? "" : `${input.type} event `}${event.id} from Stripe`
    : `Stripe lists no ${input.type} event about ${String(stripeObject.id)}; synced the object itself`;
  const did =
    outcome === "processed"
      ? changes.length === 0
        ? "the mirror was already up to date"
        : `${changes.length} change${changes.length === 1 ? "" : "s"}: ${[...new Set(changes.map((c) => c.action))].join(", ")}`
      : outcome === "stored"
        ? "its type changes nothing, so it is only stored"
        : `processing failed and is ${outcome === "parked" ? "parked" : "due for a retry"} (GET /v1/events)`;
  return {
    event_id: event?.id ?? null,
    type: event?.type ?? input.type,
    object: typeof stripeObject.id === "string" ? { type: String(stripeObject.object ?? kind ?? "unknown"), id: stripeObject.id } : null,
    fetched,
    outcome,
    changes,
    disagreements: found,
    summary: `${what}; ${did}.${found.length > 0 ? ` The body disagreed with Stripe on ${found.map((d) => d.field).join(", ")}; Stripe's values were used.` : ""}`,
  };
}

export const processWebhook = defineTool({
  name: "process_webhook",
  description:
    'Admin only. Process a Stripe event given as JSON, e.g. {"type": "invoice.payment_failed", "data": {"object": {...}}}, without trusting its contents: the event (by `id`) or else the object it names is fetched from Stripe and runs through the normal webhook pipeline (mirror, entitlements, dunning, audit). Returns what changed and where the body disagreed with Stripe.',
  input: Input,
  output: Output,
  permission: "events:replay",
  twin: { method: "POST", path: "/v1/events/{id}/replay" },
  access: "write",
  examples: [{ type: "invoice.payment_failed", data: { object: { id: "in_123", object: "invoice" } } }],
  handler: run,
});
