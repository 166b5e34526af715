import type Stripe from "stripe";
import { newId } from "./ids.ts";
import { clone, emptyState, type State } from "./store.ts";
import { Deliverer, type ChaosOptions } from "./webhooks/deliver.ts";

/** Stripe's API version for the installed stripe@23 (its pinned `ApiVersion`). */
export const API_VERSION = "2026-10-28.endive";

export interface SmartRetryOptions {
  /**
   * Days after the invoice's first failed automatic attempt at which it is retried, e.g.
   * [3, 5, 7] = three retries (four attempts in all).
   */
  scheduleDays: number[];
  /** What happens to the subscription after the last retry fails. */
  afterLastRetry: "cancel" | "unpaid" | "past_due";
}

/** A retry schedule that fails checkSmartRetries; `field` says which half, for a caller's error. */
export class SmartRetriesInvalid extends Error {
  constructor(
    message: string,
    readonly field: keyof SmartRetryOptions,
  ) {
    super(message);
  }
}

/**
 * Rejects a retry schedule Stripe could not have: days must be positive and increasing. `names`
 * are what the caller calls the two fields, so the message points at what it was given.
 */
export function checkSmartRetries(
  o: { scheduleDays: unknown; afterLastRetry: unknown },
  names: Record<keyof SmartRetryOptions, string> = { scheduleDays: "smartRetries.scheduleDays", afterLastRetry: "smartRetries.afterLastRetry" },
): SmartRetryOptions {
  const days = o.scheduleDays;
  if (!Array.isArray(days) || days.some((d, i) => typeof d !== "number" || !Number.isFinite(d) || d <= 0 || (i > 0 && d <= days[i - 1]))) {
    throw new SmartRetriesInvalid(`${names.scheduleDays} must be increasing positive numbers of days after the first failure, e.g. [3, 5, 7]; got ${JSON.stringify(days)}`, "scheduleDays");
  }
  const after = o.afterLastRetry;
  if (after !== "cancel" && after !== "unpaid" && after !== "past_due") {
    throw new SmartRetriesInvalid(`${names.afterLastRetry} must be "cancel", "unpaid" or "past_due"; got ${JSON.stringify(after)}`, "afterLastRetry");
  }
  return { scheduleDays: days.map(Number), afterLastRetry: after };
}

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /**
   * The emulator's clock, milliseconds since epoch (wall time when unset). Everything not on a
   * test clock reads it: object timestamps, idempotency key ages, webhook signatures.
   */
  now?: () => number;
  /** Tax rates in basis points by `COUNTRY-STATE` or `COUNTRY` (e.g. { "US-CA": 725 }). */
  taxRates?: Record<string, number>;
  chaos?: ChaosOptions | null;
  /** Delay before each webhook retry, in ms; its length is the number of retries. */
  retrySchedule?: number[];
  /** Keep state in this JSON file across restarts. */
  stateFile?: string;
  /** Secret key clients must use (any sk_test_... is accepted when unset). */
  secretKey?: string;
  /** Create a webhook endpoint at start, for `--forward-to`. */
  forwardTo?: string;
  /** Fixed whsec_ secret for the forward-to endpoint (random when unset). */
  webhookSecret?: string;
  /** Automatic payment retries (Stripe's Smart Retries); off by default. */
  smartRetries?: SmartRetryOptions | null;
  /** Seconds a subscription renewal invoice stays draft before finalizing (Stripe: ~1 hour). */
  invoiceFinalizeDelaySeconds?: number;
  webhookTimeoutMs?: number;
  webhookConcurrency?: number;
  /** Print each request to stderr. */
  verbose?: boolean;
}

export interface RequestInfo {
  id: string | null;
  idempotencyKey: string | null;
}

/**
 * Shared services every handler uses: state, time, event emission. Time has two sources:
 * objects on a test clock live at that clock's frozen time; everything else at `now()`.
 */
export class Core {
  state: State = emptyState();
  /** Draft and open invoices: the only ones the scheduler has to look at. */
  pendingInvoices = new Set<string>();
  /** Real (wall) time each event was emitted, for the events list's 30-day window. */
  readonly emittedAtMs = new Map<string, number>();
  /**
   * The events in the order they were recorded, and each one's place in it: the events list reads
   * a page from its cursor instead of copying and filtering every event of the run for each page.
   */
  eventLog: Stripe.Event[] = [];
  eventPosition = new Map<string, number>();
  baseUrl = "";
  readonly deliverer: Deliverer;
  taxRates: Record<string, number>;
  smartRetries: SmartRetryOptions | null;
  /**
   * Retry schedules set for one test clock (`/_emulator/test_clocks/:id/smart_retries`): tests
   * sharing one emulator can each turn retries on for their own clock without touching the rest.
   */
  readonly clockSmartRetries = new Map<string, SmartRetryOptions>();
  readonly finalizeDelay: number;
  /**
   * API requests served since start, by HTTP method (`GET /_emulator/requests`): a test can tell
   * that a run made no write (no POST or DELETE) without reading every object.
   */
  readonly requestCounts = new Map<string, number>();

  constructor(readonly options: EmulatorOptions) {
    this.taxRates = options.taxRates ?? {};
    this.smartRetries = options.smartRetries ? checkSmartRetries(options.smartRetries) : null;
    this.finalizeDelay = options.invoiceFinalizeDelaySeconds ?? 3600;
    this.deliverer = new Deliverer({
      retryScheduleMs: options.retrySchedule ?? [1000, 2000, 4000, 8000, 16000, 32000],
      timeoutMs: options.webhookTimeoutMs ?? 10_000,
      concurrency: options.webhookConcurrency ?? 16,
      chaos: options.chaos ?? null,
      nowMs: () => this.realNowMs(),
      onDelivered: (eventId) => {
        const ev = this.state.events.get(eventId);
        if (ev && ev.pending_webhooks > 0) ev.pending_webhooks -= 1;
      },
    });
  }

  countRequest(method: string): void {
    this.requestCounts.set(method, (this.requestCounts.get(method) ?? 0) + 1);
  }

  /** Replaces all state (reset, or restore from a snapshot) and rebuilds derived indexes. */
  replaceState(state: State): void {
    this.state = state;
    this.clockSmartRetries.clear();
    this.pendingInvoices = new Set([...state.invoices.values()].filter((i) => i.status === "draft" || i.status === "open").map((i) => i.id));
    this.eventLog = [...state.events.values()];
    this.eventPosition = new Map(this.eventLog.map((ev, i) => [ev.id, i]));
  }

  /** The one place the emulator reads wall time, and only when no clock was injected. */
  realNowMs(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  /** Seconds, for objects not on a test clock. */
  realNow(): number {
    return Math.floor(this.realNowMs() / 1000);
  }

  clockNow(clockId: string | null | undefined): number {
    if (clockId) {
      const clock = this.state.testClocks.get(clockId);
      if (clock) return clock.frozen_time;
    }
    return this.realNow();
  }

  clockOfCustomer(customerId: string | null | undefined): string | null {
    if (!customerId) return null;
    const c = this.state.customers.get(customerId);
    const tc = c?.test_clock;
    return typeof tc === "string" ? tc : null;
  }

  nowForCustomer(customerId: string | null | undefined): number {
    return this.clockNow(this.clockOfCustomer(customerId));
  }

  /** The retry schedule for objects on this test clock: its own if set, else the global option. */
  smartRetriesFor(clock: string | { id: string } | null | undefined): SmartRetryOptions | null {
    const id = typeof clock === "string" ? clock : clock?.id;
    return (id ? this.clockSmartRetries.get(id) : undefined) ?? this.smartRetries;
  }

  /** Events emitted while held (see holdEvents): recorded and sent only when released. */
  private held: Stripe.Event[] | null = null;

  /**
   * Records an event and queues it to every enabled endpoint. `data.object` is a snapshot taken
   * now, so later changes to the object do not leak into an earlier event (as on Stripe).
   */
  emit(input: EventInput, at: number, request: RequestInfo | null): Stripe.Event {
    const event: Stripe.Event = {
      id: newId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: at,
      livemode: false,
      pending_webhooks: 0,
      request: { id: request?.id ?? null, idempotency_key: request?.idempotencyKey ?? null },
      ...clone(input),
    };
    if (this.held) this.held.push(event);
    else this.record(event);
    return event;
  }

  /**
   * Holds back every event emitted from now on, for a change that may still be rolled back
   * (an update refused with error_if_incomplete): `releaseEvents(true)` records and sends them
   * in order, `releaseEvents(false)` drops them as if they never happened.
   */
  holdEvents(): void {
    if (this.held) throw new Error("events are already held");
    this.held = [];
  }

  releaseEvents(keep: boolean): void {
    const held = this.held ?? [];
    this.held = null;
    if (keep) for (const event of held) this.record(event);
  }

  private record(event: Stripe.Event): void {
    const targets = [...this.state.webhookEndpoints.values()].filter(
      (r) => r.endpoint.status === "enabled" && (r.endpoint.enabled_events.includes("*") || r.endpoint.enabled_events.includes(event.type)),
    );
    event.pending_webhooks = targets.length;
    this.state.events.set(event.id, event);
    this.eventPosition.set(event.id, this.eventLog.push(event) - 1);
    this.emittedAtMs.set(event.id, this.realNowMs());
    this.deliverer.enqueue(
      event.id,
      event.type,
      JSON.stringify(event, null, 2),
      targets.map((t) => ({ endpointId: t.endpoint.id, url: t.endpoint.url, secret: t.secret })),
    );
  }
}

/** `{ type, data }` of any Stripe event, typed so `data.object` must match `type`. */
export type EventInput = Stripe.Event extends infer E ? (E extends Stripe.Event ? Pick<E, "type" | "data"> : never) : never;

/** The fields of `after` that differ from `before`, with `before`'s values (previous_attributes). */
export function diff<T extends object>(before: T, after: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key in after) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = before[key];
  }
  return out;
}
