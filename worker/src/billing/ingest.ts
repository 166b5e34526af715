/**
 * Webhook ingestion through Cloudflare Queues. The route checks the signature and the event,
 * sends it to the `stripe-events` queue and answers 200; this consumer writes each batch into
 * the event inbox in ONE D1 batch (INSERT ... ON CONFLICT DO NOTHING, so a duplicate delivery
 * changes nothing), acks a message only once its row is stored, then processes the new events.
 *
 * Why: one local D1 write per webhook request was the endpoint's whole cost (bench: 0.31 of a
 * bare route); a queue send is cheaper, and a batch of up to 100 rows costs about one write.
 *
 * Failure handling:
 * - the batch insert fails (one transaction, so nothing was written): retry the messages one by
 *   one, so a single bad row cannot hold back the others; a message whose row still cannot be
 *   written is retried by the queue with backoff, then moved to the dead letter queue
 *   (`stripe-events-dlq`), whose consumer is this same code (slow retries, logged as errors);
 * - a message that is not an event we sent (unparseable, id mismatch) is retried the same way
 *   and so ends in the dead letter queue, where it can be inspected; it is never stored;
 * - processing (Stripe fetches, mirror writes) runs after the acks. It has its own retries: a
 *   new row is `pending` with `next_attempt_at` = now + lease, so if processing here fails or
 *   the invocation dies, the cron sweep takes it.
 */
import type { Db } from "../db/client";
import { getDb } from "../db/client";
import { stripeConfig, type Env } from "../env";
import { describeError } from "../http/describe-error";
import { storeEvent, storeEvents, type IncomingEvent } from "./events";
import { needsProcessing, processEvent } from "./process";
import { stripeClient, type Stripe } from "./stripe";

export const EVENTS_QUEUE = "stripe-events";
export const EVENTS_DLQ = "stripe-events-dlq";

/** What the webhook route puts on the queue: the verified event, as received. */
export interface EventMessage {
  id: string;
  type: string;
  /** Stripe's `created` (seconds). */
  created: number;
  /** The exact request body the signature covered. */
  payload: string;
  /** When the webhook reached us (ms). */
  received_at: number;
}

/**
 * Messages are sent as JSON; one whose encoding is over this many bytes (a queue message holds
 * 128 KB, minus room for the envelope) is stored by the route directly, as before the queue.
 * Stripe events are usually a few KB.
 */
export const MAX_QUEUED_BYTES = 120_000;

const encoder = new TextEncoder();
export function fitsQueue(message: EventMessage): boolean {
  // Cheap bound first: JSON escaping at most doubles ASCII, and UTF-8 takes at most 3 bytes per unit.
  if (message.payload.length * 3 + 200 <= MAX_QUEUED_BYTES) return true;
  return encoder.encode(JSON.stringify(message)).length <= MAX_QUEUED_BYTES;
}

/** Delay before the queue redelivers a message that could not be stored. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(10 * 2 ** Math.max(0, attempts - 1), 3600);
}

/** Parallel processors per batch: each holds Stripe fetches and D1 writes open. */
const PROCESS_CONCURRENCY = 4;
/**
 * New events processed in one consumer run. Each costs several Stripe fetches and D1 queries,
 * and a run has a subrequest budget; the rest wait for the minute sweep (they are due one lease
 * after they were stored).
 */
export const PROCESS_PER_RUN = 25;
/** Matches wrangler.toml's max_retries for the dead letter queue. */
const DLQ_MAX_ATTEMPTS = 100;
const DLQ_RETRY_DELAY_S = 3600;

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

export async function consumeEvents(batch: MessageBatch<EventMessage>, env: Env, now: () => number = Date.now): Promise<ConsumeResult> {
  const db = getDb(env.DB);
  const dlq = batch.queue === EVENTS_DLQ;
  const log = (level: string, fields: Record<string, unknown>) => console.error(JSON.stringify({ level: dlq ? "error" : level, queue: batch.queue, ...fields }));
  const result: ConsumeResult = { stored: 0, duplicates: 0, retried: 0, processed: [] };
  const retry = (msg: Message<EventMessage>, why: string) => {
    result.retried++;
    if (dlq && msg.attempts >= DLQ_MAX_ATTEMPTS) {
      // The queue drops it after this: say so loudly, with what reconciliation needs to refetch it.
      log("error", { message: "DROPPING webhook event after the dead letter queue's last retry; run reconciliation or replay it from Stripe", event: msg.body?.id, type: msg.body?.type, created: msg.body?.created, error: why });
    } else {
      log("warn", { message: "webhook event not stored; the queue will redeliver it", event: msg.body?.id, attempts: msg.attempts, error: why });
    }
    // The main queue backs off per message; the dead letter queue retries slowly and evenly.
    msg.retry({ delaySeconds: dlq ? DLQ_RETRY_DELAY_S : retryDelaySeconds(msg.attempts) });
  };

  const items: { msg: Message<EventMessage>; event: IncomingEvent }[] = [];
  for (const msg of batch.messages) {
    const event = msg.body && typeof msg.body === "object" ? parse(msg.body) : undefined;
    if (!event) retry(msg, "not a webhook event message");
    else items.push({ msg, event: { event, payload: msg.body.payload, source: "webhook", receivedAt: msg.body.received_at, needsProcessing: needsProcessing(event.type) } });
  }
  if (items.length === 0) return result;

  const t = now();
  let written: (boolean | undefined)[];
  try {
    written = await storeEvents(db, items.map((i) => i.event), t);
  } catch (error) {
    log("warn", { message: "batch insert failed; storing one by one", size: items.length, error: describeError(error) });
    written = [];
    for (const { msg, event } of items) {
      try {
        written.push(await storeEvent(db, event.event, event.payload, "webhook", t, event.needsProcessing));
      } catch (e) {
        written.push(undefined);
        retry(msg, describeError(e));
      }
    }
  }

  const fresh: string[] = [];
  items.forEach(({ msg, event }, i) => {
    const w = written[i];
    if (w === undefined) return;
    msg.ack(); // the row is there (new or a duplicate): nothing left for the queue to do
    if (w) {
      result.stored++;
      if (event.needsProcessing) fresh.push(event.event.id);
    } else result.duplicates++;
  });
  if (dlq && result.stored + result.duplicates > 0) log("error", { message: "stored events from the dead letter queue", stored: result.stored, duplicates: result.duplicates });

  result.processed = await processAll(db, env, fresh.slice(0, PROCESS_PER_RUN));
  return result;
}

/** Processes new events; a failure stays with the event row (the sweep retries it). */
async function processAll(db: Db, env: Env, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  let stripe: Stripe;
  try {
    stripe = stripeClient(stripeConfig(env));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", message: "cannot process events: Stripe config", error: describeError(error) }));
    return [];
  }
  const done: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PROCESS_CONCURRENCY, ids.length) }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          if ((await processEvent({ db, stripe, now: Date.now }, id)) === "processed") done.push(id);
        } catch (error) {
          console.error(JSON.stringify({ level: "error", event: id, error: describeError(error) }));
        }
      }
    }),
  );
  return done;
}

/** Stores an event the queue could not take (too large); true when it was new. */
export function storeDirectly(db: Db, event: Stripe.Event, payload: string, now: number): Promise<boolean> {
  return storeEvent(db, event, payload, "webhook", now, needsProcessing(event.type));
}
