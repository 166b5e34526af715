/**
 * The system as `npm start` runs it, for an end-to-end test: the Stripe emulator provisioned by
 * `npm run stripe:setup`'s code (the catalog's prices, the portal's policy), a webhook endpoint
 * with exactly the event types the worker handles in the pinned API version, and the worker in
 * workerd with wrangler.toml's queue batch timeout, its crons run over HTTP as wrangler's
 * `/__scheduled` runs them.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import Stripe from "stripe";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../packages/stripe-emulator/src/index.ts";
import { seedCatalog } from "../../scripts/catalog-prices.ts";
import { CRONS } from "../../worker/src/cron.ts";
import { pinnedApiVersion } from "../../worker/src/stripe-sync/api-version.ts";
import { HANDLED_EVENT_TYPES } from "../../worker/src/stripe-sync/handled-events.ts";
import { ROOT, startWorker, type WorkerHarness } from "./worker.ts";

/** wrangler.toml's stripe-events max_batch_timeout: a clock advance's webhooks are all stored before any is processed. */
export const WRANGLER_BATCH_TIMEOUT_S = Number(/queue = "stripe-events"\s+max_batch_size = \d+\s+max_batch_timeout = (\d+(?:\.\d+)?)/.exec(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"))![1]);

export interface RunningSystem {
  emulator: Emulator;
  stripe: Stripe;
  worker: WorkerHarness;
  /** One cron over HTTP, to its end (its `cron_runs` row finished). */
  runCron(name: keyof typeof CRONS): Promise<void>;
  /**
   * Until Stripe has sent everything and the worker has processed it, again while processing
   * makes Stripe send more (a refund that ends access cancels the subscription). The queue
   * consumer may leave events of a big batch to the minute cron's sweep, as in the running
   * system (there a minute later; here at once). `sweep: false` waits for the consumer alone.
   */
  settle(opts?: { sweep?: boolean }): Promise<void>;
  /** A Stripe test clock moved to `ms` (UTC), once the emulator says it is ready, then settled. */
  advanceClock(clock: string, ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(opts: {
  secretKey: string;
  emulator?: Omit<EmulatorOptions, "port" | "secretKey">;
  bindings?: Record<string, string>;
  /** Default wrangler.toml's; the demo seed takes npm start's shorter one (scripts/start.ts writes it into wrangler.dev.toml). */
  queueBatchTimeoutSeconds?: number;
}): Promise<RunningSystem> {
  const emulator = await startEmulator({ port: 0, secretKey: opts.secretKey, ...opts.emulator });
  const stripe = new Stripe(emulator.secretKey, { httpClient: Stripe.createFetchHttpClient(), host: "127.0.0.1", port: emulator.port, protocol: "http" });
  await seedCatalog(stripe);
  // The worker's URL is known once it runs, and it needs the endpoint's secret to start.
  const endpoint = await stripe.webhookEndpoints.create({
    url: "http://127.0.0.1:1/placeholder",
    enabled_events: [...HANDLED_EVENT_TYPES],
    api_version: pinnedApiVersion({}) as Stripe.WebhookEndpointCreateParams.ApiVersion,
  });
  const worker = await startWorker({
    queueBatchTimeoutSeconds: opts.queueBatchTimeoutSeconds ?? WRANGLER_BATCH_TIMEOUT_S,
    bindings: { STRIPE_API_BASE: emulator.url, STRIPE_SECRET_KEY: emulator.secretKey, STRIPE_WEBHOOK_SECRETS: endpoint.secret!, ...opts.bindings },
  });
  await stripe.webhookEndpoints.update(endpoint.id, { url: `${worker.url}/webhooks/stripe` });

  async function runCron(name: keyof typeof CRONS): Promise<void> {
    const res = await fetch(`${worker.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(CRONS[name])}`);
    if (res.status !== 200) throw new Error(`the ${name} cron answered ${res.status}: ${await res.text()}`);
    const runs = worker.db.prepare("select last_started_at as started, last_finished_at as finished from cron_runs where cron = ?").bind(name);
    for (let i = 0; ; i++) {
      const run = await runs.first<{ started: number | null; finished: number | null }>();
      if (run?.finished != null && run.started != null && run.finished >= run.started) return;
      if (i > 600) throw new Error(`the ${name} cron did not finish`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // The queue holds only what Stripe delivered: with no delivery since the last settle there is
  // nothing to drain, and a drain costs a whole batch timeout.
  let drainedAt = -1;
  async function settle(o: { sweep?: boolean } = {}): Promise<void> {
    await emulator.idle();
    const delivered = emulator.deliveries().length;
    if (delivered !== drainedAt) await worker.drainQueue();
    drainedAt = delivered;
    for (let i = 0; ; i++) {
      const pending = await worker.db.prepare("select count(*) as n from stripe_events where status = 'pending'").first<{ n: number }>();
      if (!pending?.n) break;
      if (i >= 300) throw new Error("the worker did not process its events");
      if (o.sweep === false) await new Promise((r) => setTimeout(r, 100));
      else {
        await worker.db.prepare("update stripe_events set next_attempt_at = ? where status = 'pending' and lease_until is null").bind(Date.now()).run();
        await runCron("sweep");
      }
      await emulator.idle();
    }
    if (emulator.deliveries().length !== delivered) await settle(o);
  }

  return {
    emulator,
    stripe,
    worker,
    runCron,
    settle,
    async advanceClock(clock: string, ms: number): Promise<void> {
      await stripe.testHelpers.testClocks.advance(clock, { frozen_time: Math.floor(ms / 1000) });
      while ((await stripe.testHelpers.testClocks.retrieve(clock)).status !== "ready") await new Promise((r) => setTimeout(r, 20));
      await settle();
    },
    async stop() {
      await worker.dispose();
      await emulator.stop();
    },
  };
}
