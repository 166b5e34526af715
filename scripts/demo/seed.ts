/**
 * Plays the demo plan (plan.ts) against a running worker and Stripe (the emulator locally):
 * every customer on their own test clock, starting a year ago, subscribing through the worker's
 * `POST /v1/checkout` and the hosted checkout, then living their story through the worker's
 * lifecycle API as their clock moves to today. Everything reaches the worker as Stripe's own
 * signed webhooks, so the mirror, the entitlements and the history are what production would
 * have. No shortcut writes to D1.
 */
import type Stripe from "stripe";
import { demoPlan, type DemoAction, type DemoCustomer } from "./plan.ts";

const DAY = 86_400;
export const DEMO_PROMOTION_CODE = "FEDWELCOME";

export interface SeedTarget {
  workerUrl: string;
  serviceKey: string;
  /**
   * Service keys for the seed's lanes (the customers it plays at once), one lane to a key in
   * turn; `serviceKey` when there are none. Under one key the seed reaches the worker's limit
   * per client (why: docs/operations.md, npm start).
   */
  laneKeys?: readonly string[];
  /** Lists the worker's events (admin): the seed waits until every delivered event is processed. */
  adminKey: string;
  /** The official client, pointed at the emulator (or a Stripe test account). */
  stripe: Stripe;
  /** The emulator's base URL and key, for the buyer's side of Checkout (its test helper). */
  emulatorUrl: string;
  emulatorKey: string;
  /** Resolves when the emulator has no webhook delivery pending. */
  idle(): Promise<void>;
  /**
   * Resolves once the emulator has delivered every webhook it had queued when called, whatever
   * it queued since (the emulator's flushed()): other customers' stories keep it from being idle.
   */
  flushed?(): Promise<void>;
  /** Runs the worker's minute sweep, which retries events whose processing failed. */
  sweep?(): Promise<void>;
  /**
   * Runs the worker's dunning cron (every 15 minutes in production), which acts on each test
   * clock's own time: the seed runs it as a customer's clock walks through a failed renewal.
   */
  dunning?(): Promise<void>;
  /**
   * Resolves once the worker has stored every event it answered for: the webhook endpoint
   * answers once an event is queued, and the queue consumer stores it a moment later.
   */
  drain?(): Promise<void>;
}

export interface SeedProgress {
  done: number;
  total: number;
  /** Actions the worker refused or that failed (the seed goes on without them). */
  failed: number;
}

export interface SeedOptions {
  customers: number;
  days: number;
  /** Unix seconds: the end of the history (today). */
  now: number;
  concurrency?: number;
  /**
   * How often the worker's minute sweep runs while the stories play (default every second). It
   * retries events whose processing failed and, when the queue hands the consumer more than one
   * run processes, takes the rest; where every event gets its own consumer run (npm start's
   * local queue settings), running it less often leaves the worker's CPU to the webhooks.
   */
  sweepEveryMs?: number;
  seed?: number;
  onProgress?: (p: SeedProgress) => void;
  /** Told about each action that failed, with why. */
  onIssue?: (customer: DemoCustomer, what: string) => void;
}

export interface SeedReport {
  customers: number;
  failedActions: number;
  byStory: Record<string, number>;
  seconds: number;
  /**
   * Where the seconds went: playing every customer's story, then waiting until the worker has
   * processed every delivered event, then the closing crons (a sweep and two dunning runs).
   */
  phases: { played: number; settled: number; crons: number };
}

class WorkerError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
  }
}

/** How many 429s in a row one request waits out before the seed gives that step up. */
const RATE_LIMITED_TRIES = 10;

/**
 * How long a 429 asks the client to wait: Retry-After in seconds or as an HTTP date (RFC 9110
 * 10.2.3); a minute, the worker's window, when it is missing or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  const value = header?.trim() ?? "";
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return Math.max(0, date - now);
  return 60_000;
}

/**
 * The seed's client of the worker's API. A 429 is waited out as the answer's Retry-After says
 * (up to RATE_LIMITED_TRIES times), so a busy limit slows the seed instead of refusing a
 * customer; a network error or a 5xx is retried a few times with a short backoff.
 * @param wait how a pause is taken (a test passes one that records it).
 */
export function workerClient(target: Pick<SeedTarget, "workerUrl" | "serviceKey">, wait: (ms: number) => Promise<void> = sleep) {
  return async function api<T>(method: string, path: string, body?: unknown, key = target.serviceKey): Promise<T> {
    let limited = 0;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${target.workerUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        if (attempt < 4) {
          await wait(250 * attempt);
          continue;
        }
        throw e;
      }
      if (res.status === 429 && ++limited <= RATE_LIMITED_TRIES) {
        await res.body?.cancel();
        await wait(retryAfterMs(res.headers.get("retry-after")));
        attempt--;
        continue;
      }
      // A passing server error: wait and try again.
      if (res.status >= 500 && attempt < 4) {
        await res.body?.cancel();
        await wait(250 * attempt);
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new WorkerError(res.status, text, `${method} ${path}`);
      return JSON.parse(text) as T;
    }
  };
}

/** The API client of each of the seed's lanes: under its own key of `laneKeys` in turn, else the service key. */
export function laneClients(target: Pick<SeedTarget, "workerUrl" | "serviceKey" | "laneKeys">, lanes: number, wait?: (ms: number) => Promise<void>): ReturnType<typeof workerClient>[] {
  const keys = target.laneKeys?.length ? target.laneKeys : [target.serviceKey];
  return Array.from({ length: lanes }, (_, n) => workerClient({ workerUrl: target.workerUrl, serviceKey: keys[n % keys.length]! }, wait));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `check` until it says done. Gives up after `timeoutMs` without progress: a check that
 * returns a string (what it saw) counts a change of that string as progress, so a long but moving
 * wait (a loaded machine working through its queue) is not cut short.
 */
async function until(what: string, check: () => Promise<boolean | string>, timeoutMs = 30_000): Promise<void> {
  let since = Date.now();
  let seen: string | undefined;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    const result = await check();
    if (result === true) return;
    if (typeof result === "string" && result !== seen) {
      seen = result;
      since = Date.now();
    }
    if (Date.now() - since > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(wait);
  }
}

async function advance(stripe: Stripe, clockId: string, to: number): Promise<void> {
  const clock = await stripe.testHelpers.testClocks.retrieve(clockId);
  if (clock.frozen_time >= to) return;
  await stripe.testHelpers.testClocks.advance(clockId, { frozen_time: to });
  await until(`test clock ${clockId}`, async () => (await stripe.testHelpers.testClocks.retrieve(clockId)).status === "ready");
}

/** The buyer's side of Checkout: pay on the hosted page with a test card. */
async function completeCheckout(target: SeedTarget, c: DemoCustomer, sessionId: string): Promise<void> {
  const form = new URLSearchParams({ payment_method: "pm_card_visa", name: c.name, email: c.email, "address[country]": "US" });
  if (c.taxed) {
    form.set("address[state]", "CA");
    form.set("address[postal_code]", "94107");
  } else {
    form.set("address[state]", "VA");
    form.set("address[postal_code]", "22201");
  }
  const res = await fetch(`${target.emulatorUrl}/v1/test_helpers/checkout/sessions/${sessionId}/complete`, {
    method: "POST",
    headers: { authorization: `Bearer ${target.emulatorKey}`, "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  if (!res.ok) throw new Error(`completing checkout for ${c.userId}: HTTP ${res.status} ${await res.text()}`);
}

async function act(target: SeedTarget, api: ReturnType<typeof workerClient>, c: DemoCustomer, ids: { customer: string; sub: string }, action: DemoAction): Promise<void> {
  const { stripe } = target;
  const user = encodeURIComponent(c.userId);
  const customerId = ids.customer;
  const sub = ids.sub;
  switch (action.kind) {
    case "remove_card": {
      for (const pm of (await stripe.paymentMethods.list({ customer: customerId })).data) await stripe.paymentMethods.detach(pm.id);
      await stripe.subscriptions.update(sub, { default_payment_method: "" });
      return;
    }
    case "upgrade":
    case "downgrade":
    case "to_annual": {
      const tier = (await stripe.subscriptions.retrieve(sub)).items.data[0]?.price.lookup_key?.split("_")[0] ?? c.tier;
      const body = action.kind === "to_annual" ? { tier, billing_cycle: "annual" } : { tier: action.kind === "upgrade" ? "mobile" : "local" };
      const preview = await api<{ amount_due_now: number; proration_date: string }>("POST", `/v1/subscriptions/${user}/change/preview`, body);
      await api("POST", `/v1/subscriptions/${user}/change`, { ...body, expected_amount_due_now: preview.amount_due_now, proration_date: preview.proration_date });
      return;
    }
    case "cancel": {
      const first = await api<{ canceled: boolean; offer?: { id: string } }>("POST", `/v1/subscriptions/${user}/cancel`, {
        reason: action.reason,
        feedback: `Demo: ${action.reason.replaceAll("_", " ")}`,
        ...(action.then === "skip_offer" ? { skip_offer: true } : {}),
      });
      if (first.canceled || !first.offer) return;
      if (action.then === "accept_offer") await api("POST", `/v1/subscriptions/${user}/offer/accept`, { offer_id: first.offer.id });
      else await api("POST", `/v1/subscriptions/${user}/cancel`, { reason: action.reason });
      return;
    }
    case "card_fails":
    case "card_fixed": {
      const pm = await stripe.paymentMethods.attach(action.kind === "card_fails" ? "pm_card_chargeCustomerFail" : "pm_card_visa", { customer: customerId });
      await stripe.customers.update(customerId, { invoice_settings: { default_payment_method: pm.id } });
      await stripe.subscriptions.update(sub, { default_payment_method: pm.id });
      if (action.kind === "card_fixed") {
        // As the hosted invoice page does once the new card is in: pay what is open.
        for (const inv of (await stripe.invoices.list({ customer: customerId, status: "open", limit: 10 })).data) await stripe.invoices.pay(inv.id);
      }
      return;
    }
    case "pause":
      await api("POST", `/v1/subscriptions/${user}/pause`, {});
      return;
    case "resume":
      await api("POST", `/v1/subscriptions/${user}/resume`);
      return;
  }
}

async function live(target: SeedTarget, api: ReturnType<typeof workerClient>, c: DemoCustomer, opts: SeedOptions, issue: (what: string) => void): Promise<void> {
  const { stripe } = target;
  const start = opts.now - opts.days * DAY + c.joinDay * DAY;
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start, name: c.userId });
  const session = await api<{ session_id: string }>("POST", "/v1/checkout", {
    user_id: c.userId,
    email: c.email,
    tier: c.tier,
    billing_cycle: c.cycle,
    test_clock: clock.id,
    ...(c.promotionCode ? { promotion_code: DEMO_PROMOTION_CODE } : {}),
  });
  await completeCheckout(target, c, session.session_id);
  const done = await stripe.checkout.sessions.retrieve(session.session_id);
  // The lifecycle API finds a subscription whose webhooks are still on their way in Stripe.
  const ids = { customer: done.customer as string, sub: done.subscription as string };
  for (const { day, action } of c.actions) {
    await advance(stripe, clock.id, start + day * DAY);
    try {
      await act(target, api, c, ids, action);
    } catch (e) {
      issue(`${action.kind} on day ${day}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // A card that failed and was never fixed: the renewal fails, and the worker's dunning runs on
  // the clock as it would in production (each step's cron at its day), up to the cancellation.
  if (c.actions.at(-1)?.action.kind === "card_fails" && target.dunning) {
    try {
      await walkDunning(target, clock.id, ids.sub, opts.now);
    } catch (e) {
      issue(`dunning: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  await advance(stripe, clock.id, opts.now);
}

/**
 * Days after a failed renewal on which the default dunning policy acts (worker/src/dunning/policy.ts):
 * retries on days 1, 3, 7 and 14, notices on 3, 7 and 14, the suspension on 21 and the
 * cancellation six days later.
 */
const DUNNING_DAYS = [1, 3, 7, 14, 21, 27];

async function walkDunning(target: SeedTarget, clockId: string, subId: string, until: number): Promise<void> {
  const { stripe } = target;
  const renewal = (await stripe.subscriptions.retrieve(subId)).items.data[0]?.current_period_end;
  if (renewal === undefined || renewal + 2 * 3600 > until) return;
  await advance(stripe, clockId, renewal + 2 * 3600);
  const open = (await stripe.invoices.list({ subscription: subId, status: "open", limit: 10 })).data;
  const failedAt = Math.min(...open.map((i) => i.status_transitions.finalized_at ?? i.created));
  if (!Number.isFinite(failedAt)) return;
  for (const d of DUNNING_DAYS) {
    const t = failedAt + d * DAY + 3600;
    if (t > until) return;
    await advance(stripe, clockId, t);
    // The webhooks of the step reach the worker first: those queued by now, which include the
    // step's (without flushed(), a bounded wait: other customers keep the emulator busy).
    await (target.flushed ? target.flushed() : Promise.race([target.idle(), sleep(5_000)]));
    await target.drain?.();
    await target.dunning!();
  }
}

/** The coupon and promotion code some demo customers use at checkout (made once). */
export async function ensureDemoPromotion(stripe: Stripe): Promise<void> {
  const existing = await stripe.promotionCodes.list({ code: DEMO_PROMOTION_CODE, limit: 1 });
  if (existing.data.length > 0) return;
  const coupon = await stripe.coupons.create({ percent_off: 20, duration: "repeating", duration_in_months: 3, name: "Welcome: 20 % off 3 months" });
  await stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: coupon.id }, code: DEMO_PROMOTION_CODE });
}

export async function seedDemo(target: SeedTarget, opts: SeedOptions): Promise<SeedReport> {
  const started = Date.now();
  const plan = demoPlan({ customers: opts.customers, days: opts.days, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  const api = workerClient(target);
  await ensureDemoPromotion(target.stripe);
  const progress: SeedProgress = { done: 0, total: plan.length, failed: 0 };
  opts.onProgress?.({ ...progress });
  // The customers whose unfixed card is walked through dunning take the longest (six steps, each
  // waiting on its webhooks): they start first, so the run does not end on a few of them alone.
  // Each customer lives on a test clock of its own, so the order changes nothing in the end state.
  const walksDunning = (c: DemoCustomer) => c.actions.at(-1)?.action.kind === "card_fails";
  const queue = [...plan.filter(walksDunning), ...plan.filter((c) => !walksDunning(c))];
  let next = 0;
  const lanes = laneClients(target, Math.min(opts.concurrency ?? 10, plan.length));
  const lane = async (client: ReturnType<typeof workerClient>) => {
    for (;;) {
      const c = queue[next++];
      if (!c) return;
      try {
        await live(target, client, c, opts, (what) => {
          progress.failed++;
          opts.onIssue?.(c, what);
        });
      } catch (e) {
        progress.failed++;
        opts.onIssue?.(c, e instanceof Error ? e.message : String(e));
      }
      progress.done++;
      opts.onProgress?.({ ...progress });
    }
  };
  // Meanwhile the worker's minute sweep runs every second, as the cron would every minute, so
  // the events one delivery's run leaves for it do not pile up until the end.
  // The pause between sweeps ends when the stories do: waiting it out added up to a whole
  // sweepEveryMs (10 s under npm start) to every seed.
  let playing = true;
  let stopPause = () => undefined as void;
  const stopped = new Promise<void>((resolve) => (stopPause = resolve));
  const sweeping = (async () => {
    while (playing && target.sweep) {
      await target.sweep().catch(() => undefined);
      await Promise.race([sleep(opts.sweepEveryMs ?? 1000), stopped]);
    }
  })();
  try {
    await Promise.all(lanes.map(lane));
  } finally {
    playing = false;
    stopPause();
    await sweeping;
  }
  const played = Date.now();
  // Every event delivered, stored, and processed by the worker.
  await target.idle();
  await target.drain?.();
  await until(
    "the worker to process every delivered event (no progress for two minutes)",
    async () => {
      const pending = (await api<{ data: { id: string; attempts: number }[] }>("GET", "/v1/events?status=pending&limit=50", undefined, target.adminKey)).data;
      if (pending.length === 0) return true;
      // Events beyond what one delivery's run may process, and any whose processing failed,
      // wait for the minute sweep: run it now instead of waiting for the minute.
      await target.sweep?.();
      // Progress: the pending events change as the worker processes them.
      return pending.map((e) => `${e.id}:${e.attempts}`).join(",");
    },
    120_000,
  );
  const settled = Date.now();
  // One more minute cron now that everything is in: the customers played last may have become
  // past due with their grace already over after the last sweep ran, and the cron is what
  // suspends them (as it would within a minute in production).
  await target.sweep?.();
  // And the dunning cron, twice: a case whose webhook came late is suspended by the first and,
  // when its cancellation is due too, cancelled by the second.
  if (target.dunning) {
    await target.dunning();
    await target.idle();
    await target.drain?.();
    await target.dunning();
    await target.idle();
    await target.drain?.();
  }
  const byStory: Record<string, number> = {};
  for (const c of plan) byStory[c.story] = (byStory[c.story] ?? 0) + 1;
  const ended = Date.now();
  return {
    customers: plan.length,
    failedActions: progress.failed,
    byStory,
    seconds: (ended - started) / 1000,
    phases: { played: (played - started) / 1000, settled: (settled - played) / 1000, crons: (ended - settled) / 1000 },
  };
}
