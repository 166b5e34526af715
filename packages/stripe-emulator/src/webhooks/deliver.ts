import { seededRandom } from "./rng.ts";
import { signPayload } from "./sign.ts";

/**
 * Webhook delivery: one job per (event, endpoint, copy). A job is POSTed with a fresh
 * signature each attempt; a non-2xx answer, a timeout or a simulated network failure schedules
 * the next attempt from the retry schedule, and after the last one the job is parked (Stripe
 * would disable nothing, it just stops retrying that event). Jobs run concurrently up to a
 * limit so a burst of test-clock events does not serialize on one slow receiver.
 */
export interface ChaosOptions {
  /** Seed for the RNG, so a failing chaos run can be replayed. */
  seed?: number;
  /** Probability that an attempt is "lost on the network" (not sent, retried later). */
  failureRate?: number;
  /** Deliver each event 1..maxCopies times. */
  maxCopies?: number;
  /** Random extra delay (ms) before a job's first attempt; reorders events within the window. */
  shuffleWindowMs?: number;
}

export interface DeliveryTarget {
  endpointId: string;
  url: string;
  secret: string;
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error: string | null;
  simulatedFailure: boolean;
  durationMs: number;
}

export interface DeliveryJob {
  id: number;
  eventId: string;
  eventType: string;
  endpointId: string;
  url: string;
  copy: number;
  state: "pending" | "in_flight" | "delivered" | "parked";
  attempts: DeliveryAttempt[];
  nextAttemptAt: number;
}

export interface DelivererOptions {
  retryScheduleMs: number[];
  timeoutMs: number;
  concurrency: number;
  chaos: ChaosOptions | null;
  /** The emulator's clock: attempt times, signature timestamps and the retry schedule read it. */
  nowMs: () => number;
  onDelivered: (eventId: string, endpointId: string) => void;
}

/** Min-heap of jobs by next attempt time, so the queue costs O(log n) per job, not O(n). */
class JobHeap {
  private readonly items: DeliveryJob[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): DeliveryJob | undefined {
    return this.items[0];
  }
  push(job: DeliveryJob): void {
    const a = this.items;
    a.push(job);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pj = a[parent];
      if (!pj || pj.nextAttemptAt <= job.nextAttemptAt) break;
      a[i] = pj;
      i = parent;
    }
    a[i] = job;
  }
  pop(): DeliveryJob | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mv = last.nextAttemptAt;
      const lj = a[l];
      const rj = a[r];
      if (lj && lj.nextAttemptAt < mv) {
        m = l;
        mv = lj.nextAttemptAt;
      }
      if (rj && rj.nextAttemptAt < mv) m = r;
      if (m === i) break;
      const mj = a[m];
      if (!mj) break;
      a[i] = mj;
      i = m;
    }
    a[i] = last;
    return top;
  }
  drain(): DeliveryJob[] {
    return this.items.splice(0, this.items.length);
  }
}

export class Deliverer {
  private jobs: DeliveryJob[] = [];
  private queue = new JobHeap();
  private readonly payloads = new Map<string, string>();
  private readonly secrets = new Map<number, string>();
  private readonly deliveredPairs = new Set<string>();
  private readonly remainingJobs = new Map<string, number>();
  private nextJobId = 1;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /**
   * The latest time a timer fired for. Delays are waited out with real timers, so a job whose
   * timer fired is due even when an injected clock stands still or runs behind.
   */
  private firedUpTo = -Infinity;
  private waiters: Array<() => void> = [];
  private random: () => number = Math.random;
  private chaos: ChaosOptions | null = null;
  private stopped = false;

  constructor(private readonly opts: DelivererOptions) {
    this.setChaos(opts.chaos);
  }

  setChaos(chaos: ChaosOptions | null): void {
    this.chaos = chaos;
    this.random = chaos ? seededRandom(chaos.seed ?? 1) : Math.random;
  }

  getChaos(): ChaosOptions | null {
    return this.chaos;
  }

  setRetrySchedule(schedule: number[]): void {
    this.opts.retryScheduleMs = schedule;
  }

  enqueue(eventId: string, eventType: string, payload: string, targets: DeliveryTarget[]): void {
    if (this.stopped || targets.length === 0) return;
    this.payloads.set(eventId, payload);
    const now = this.schedulingNow();
    for (const t of targets) {
      const copies = this.chaos ? 1 + Math.floor(this.random() * Math.max(1, this.chaos.maxCopies ?? 3)) : 1;
      for (let copy = 1; copy <= copies; copy++) {
        const delay = this.chaos ? Math.floor(this.random() * (this.chaos.shuffleWindowMs ?? 50)) : 0;
        const job: DeliveryJob = {
          id: this.nextJobId++,
          eventId,
          eventType,
          endpointId: t.endpointId,
          url: t.url,
          copy,
          state: "pending",
          attempts: [],
          nextAttemptAt: now + delay,
        };
        this.secrets.set(job.id, t.secret);
        this.remainingJobs.set(eventId, (this.remainingJobs.get(eventId) ?? 0) + 1);
        this.jobs.push(job);
        this.queue.push(job);
      }
    }
    this.pump();
  }

  log(): DeliveryJob[] {
    return this.jobs;
  }

  isIdle(): boolean {
    return this.inFlight === 0 && this.queue.size === 0;
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Resolves once every delivery queued until now has been made or parked; ones queued later may
   * still be pending. Under a steady stream of new events idle() may not resolve for a long
   * time, while this waits only for what was there when it was called.
   */
  async flushed(): Promise<void> {
    const upTo = this.nextJobId - 1;
    // Jobs are kept in the order they were queued: the first unfinished one decides.
    const unfinished = () => this.jobs.find((j) => j.id > upTo || j.state === "pending" || j.state === "in_flight");
    for (let job = unfinished(); job && job.id <= upTo && !this.stopped; job = unfinished()) await new Promise((r) => setTimeout(r, 20));
  }

  clear(): void {
    for (const j of this.queue.drain()) j.state = "parked";
    this.jobs = this.jobs.filter((j) => j.state === "in_flight");
    this.deliveredPairs.clear();
    this.notifyIfIdle();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const j of this.queue.drain()) j.state = "parked";
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private finishJob(job: DeliveryJob): void {
    const left = (this.remainingJobs.get(job.eventId) ?? 1) - 1;
    if (left <= 0) {
      // Every copy of this event is done: its payload is no longer needed.
      this.remainingJobs.delete(job.eventId);
      this.payloads.delete(job.eventId);
    } else this.remainingJobs.set(job.eventId, left);
    this.secrets.delete(job.id);
  }

  /** The clock, but never before a timer that has fired. */
  private schedulingNow(): number {
    return Math.max(this.opts.nowMs(), this.firedUpTo);
  }

  private pump(): void {
    if (this.stopped) return;
    const now = this.schedulingNow();
    for (;;) {
      const top = this.queue.peek();
      if (!top || top.nextAttemptAt > now || this.inFlight >= this.opts.concurrency) break;
      this.queue.pop();
      void this.attempt(top);
    }
    const next = this.queue.peek();
    if (next && this.inFlight < this.opts.concurrency && next.nextAttemptAt < this.timerAt) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = next.nextAttemptAt;
      this.timer = setTimeout(
        () => {
          this.firedUpTo = Math.max(this.firedUpTo, this.timerAt);
          this.timer = null;
          this.timerAt = Infinity;
          this.pump();
        },
        Math.max(0, next.nextAttemptAt - now),
      );
    }
    this.notifyIfIdle();
  }

  private async attempt(job: DeliveryJob): Promise<void> {
    job.state = "in_flight";
    this.inFlight++;
    const started = this.opts.nowMs();
    const record: DeliveryAttempt = { at: new Date(started).toISOString(), status: null, error: null, simulatedFailure: false, durationMs: 0 };
    let ok = false;
    if (this.chaos && this.random() < (this.chaos.failureRate ?? 0)) {
      record.simulatedFailure = true;
      record.error = "simulated network failure (chaos)";
    } else {
      const payload = this.payloads.get(job.eventId) ?? "";
      const secret = this.secrets.get(job.id) ?? "";
      try {
        const res = await fetch(job.url, {
          method: "POST",
          headers: {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "stripe-signature": signPayload(payload, secret, Math.floor(this.opts.nowMs() / 1000)),
          },
          body: payload,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        record.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        ok = res.status >= 200 && res.status < 300;
        if (!ok) record.error = `HTTP ${res.status}`;
      } catch (err) {
        record.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
    record.durationMs = this.opts.nowMs() - started;
    job.attempts.push(record);
    this.inFlight--;
    if (ok) {
      job.state = "delivered";
      const pair = `${job.eventId} ${job.endpointId}`;
      if (!this.deliveredPairs.has(pair)) {
        this.deliveredPairs.add(pair);
        this.opts.onDelivered(job.eventId, job.endpointId);
      }
      this.finishJob(job);
    } else {
      const delay = this.opts.retryScheduleMs[job.attempts.length - 1];
      if (delay === undefined || this.stopped) {
        job.state = "parked";
        this.finishJob(job);
      } else {
        job.state = "pending";
        job.nextAttemptAt = this.schedulingNow() + delay;
        this.queue.push(job);
      }
    }
    this.pump();
  }
}
