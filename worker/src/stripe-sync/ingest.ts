/**
 * Webhook ingestion. The route verifies a webhook and sends it to the `stripe-events` queue
 * (stripe-sync/receive.ts); this consumer, and the route itself when the queue cannot take an
 * event, go through the one `ingest`: store each event once (INSERT ... ON CONFLICT DO NOTHING,
 * so a duplicate delivery changes nothing), then process the new ones.
 *
 * Why a queue: one local D1 write per webhook request was the endpoint's whole cost (bench: 0.31
 * of a bare route); a queue send is cheaper, and a batch of up to 100 rows costs about one write.
 *
 * Failure handling:
 * - the batch insert fails (one transaction, so nothing was written): store the events one by
 *   one, so a single bad row cannot hold back the others; a message whose row still cannot be
 *   written is retried by the queue with backoff, then moved to the dead letter queue
 *   (`stripe-events-dlq`), whose consumer is this same code (slow retries, logged as errors);
 * - a message that is not an event we sent (unparseable, id mismatch) is retried the same way
 *   and so ends in the dead letter queue, where it can be inspected; it is never stored;
 * - processing (Stripe fetches, mirror writes) runs after the acks. It has its own retries: a
 *   new row is `pending` with `next_attempt_at` = now + lease, so if processing here fails or
 *   the invocation dies, the cron sweep takes it.
 */
import { describeError } from "../log";
import type { Services } from "../services";
import type { EventMessage } from "../env";
import { storeEvent, storeEvents, type IncomingEvent } from "./events";
import { idOf } from "./mirror";
import { needsProcessing, processEvent, processTogether, syncsOnly } from "./process";
import type { Stripe } from "./stripe";

export type { EventMessage };
export const EVENTS_QUEUE = "stripe-events";
export const EVENTS_DLQ = "stripe-events-dlq";

/** Delay before the queue redelivers a message that could not be stored. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(10 * 2 ** Math.max(0, attempts - 1), 3600);
}

/** Parallel processors per batch: each holds Stripe fetches and D1 writes open. */
const PROCESS_CONCURRENCY = 4;
/** Matches wrangler.toml's max_retries for the dead letter queue. */
const DLQ_MAX_ATTEMPTS = 100;
const DLQ_RETRY_DELAY_S = 3600;

export function incoming(event: Stripe.Event, payload: string, receivedAt: number): IncomingEvent {
  return { event, payload, source: "webhook", receivedAt, needsProcessing: needsProcessing(event.type) };
}

/**
 * Stores verified events, once per id: in one D1 batch, or one by one when the batch fails.
 * For each event: true when it was new, false for a duplicate, or the error that kept it out.
 */
export async function ingest(s: Pick<Services, "db" | "clock" | "log">, events: IncomingEvent[]): Promise<(boolean | Error)[]> {
  const now = s.clock.now();
  try {
    return await storeEvents(s.db, events, now);
  } catch (error) {
    s.log.log("warn", "batch insert failed; storing one by one", { size: events.length, error: describeError(error) });
    const out: (boolean | Error)[] = [];
    for (const e of events) out.push(await storeEvent(s.db, e, now).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
    return out;
  }
}

/** Processes new events, a few customers at a time (runsOf); a failure stays with the event row (the sweep retries it). */
export async function processNew(s: Services, events: Stripe.Event[]): Promise<string[]> {
  if (events.length === 0) return [];
  let stripe: Stripe;
  try {
    stripe = s.stripe;
  } catch (error) {
    s.log.log("error", "cannot process events: Stripe config", { error: describeError(error) });
    return [];
  }
  const done: string[] = [];
  let next = 0;
  const runs = runsOf(events);
  await Promise.all(
    Array.from({ length: Math.min(PROCESS_CONCURRENCY, runs.length) }, async () => {
      while (next < runs.length) {
        for (const run of runs[next++]!) {
          try {
            if (run.length > 1) done.push(...(await processTogether({ ...s, stripe }, run)));
            else if ((await processEvent({ ...s, stripe }, run[0]!.id, run[0])) === "processed") done.push(run[0]!.id);
          } catch (error) {
            s.log.log("error", "event processing failed", { events: run.map((e) => e.id), error: describeError(error) });
          }
        }
      }
    }),
  );
  return done;
}

/**
 * The batch's events by customer, each customer's in the order Stripe sent them, cut into runs
 * processed one after another: consecutive events that only sync objects share a run (one sync,
 * process.ts processTogether); any other event is a run of its own. Customers proceed side by side.
 */
function runsOf(events: Stripe.Event[]): Stripe.Event[][][] {
  const byCustomer = new Map<string, Stripe.Event[][]>();
  for (const event of events) {
    const key = customerOf(event);
    let runs = byCustomer.get(key);
    if (!runs) byCustomer.set(key, (runs = []));
    const last = runs.at(-1);
    if (last && syncsOnly(event.type) && syncsOnly(last[0]!.type)) last.push(event);
    else runs.push([event]);
  }
  return [...byCustomer.values()];
}

/** The customer an event is about, as its payload names it (else its object, else itself): it only groups and orders the work. */
function customerOf(event: Stripe.Event): string {
  const obj = event.data?.object as { id?: unknown; object?: unknown; customer?: unknown } | undefined;
  if (obj?.object === "customer" && typeof obj.id === "string") return obj.id;
  const customer = idOf(obj?.customer as string | { id: string } | null | undefined);
  if (typeof customer === "string") return customer;
  return typeof obj?.id === "string" ? obj.id : event.id;
}

function parse(body: EventMessage): Stripe.Event | undefined {
  try {
    const event = JSON.parse(body.payload) as Stripe.Event;
    return event && typeof event === "object" && event.id === body.id && event.type === body.type ? event : undefined;
  } catch {
    return undefined;
  }
}

export interface ConsumeResult {
  stored: number;
  duplicates: number;
  retried: number;
  processed: string[];
}

/**
 * What the consumer reads of the runtime's queue batch (Cloudflare's `MessageBatch`), spelled out
 * so that code type-checked outside the worker runtime's types (Node scripts, the e2e harness) can
 * import stripe-sync/ too.
 */
export interface EventBatch {
  readonly queue: string;
  readonly messages: readonly QueuedEvent[];
}

export interface QueuedEvent {
  readonly body: EventMessage;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/** The queue consumer of `stripe-events` and of its dead letter queue. */
export async function consumeEvents(s: Services, batch: EventBatch): Promise<ConsumeResult> {
  const dlq = batch.queue === EVENTS_DLQ;
  const log = s.log.with({ queue: batch.queue });
  // Everything that reaches the dead letter queue is an error worth a person's look.
  const level = (l: "warn" | "error") => (dlq ? "error" : l);
  const result: ConsumeResult = { stored: 0, duplicates: 0, retried: 0, processed: [] };
  const retry = (msg: QueuedEvent, why: string) => {
    result.retried++;
    if (dlq && msg.attempts >= DLQ_MAX_ATTEMPTS) {
      // The queue drops it after this: say so loudly, with what reconciliation needs to refetch it.
      log.log("error", "DROPPING webhook event after the dead letter queue's last retry; run reconciliation or replay it from Stripe", {
        event: msg.body?.id,
        type: msg.body?.type,
        created: msg.body?.created,
        error: why,
      });
    } else {
      log.log(level("warn"), "webhook event not stored; the queue will redeliver it", { event: msg.body?.id, attempts: msg.attempts, error: why });
    }
    // The main queue backs off per message; the dead letter queue retries slowly and evenly.
    msg.retry({ delaySeconds: dlq ? DLQ_RETRY_DELAY_S : retryDelaySeconds(msg.attempts) });
  };

  const items: { msg: QueuedEvent; event: IncomingEvent }[] = [];
  for (const msg of batch.messages) {
    const event = msg.body && typeof msg.body === "object" ? parse(msg.body) : undefined;
    if (!event) retry(msg, "not a webhook event message");
    else items.push({ msg, event: incoming(event, msg.body.payload, msg.body.received_at) });
  }
  if (items.length === 0) return result;

  const written = await ingest(
    { ...s, log },
    items.map((i) => i.event),
  );
  const fresh: Stripe.Event[] = [];
  items.forEach(({ msg, event }, i) => {
    const w = written[i]!;
    if (w instanceof Error) return retry(msg, describeError(w));
    msg.ack(); // the row is there (new or a duplicate): nothing left for the queue to do
    if (w) {
      result.stored++;
      if (event.needsProcessing) fresh.push(event.event);
    } else result.duplicates++;
  });
  if (dlq && result.stored + result.duplicates > 0) log.log("error", "stored events from the dead letter queue", { stored: result.stored, duplicates: result.duplicates });

  // At most EVENTS_PROCESS_PER_RUN (env.ts): the rest wait for the minute sweep, due one lease
  // after they were stored.
  result.processed = await processNew({ ...s, log }, fresh.slice(0, s.ingest.EVENTS_PROCESS_PER_RUN));
  return result;
}
