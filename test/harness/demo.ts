/**
 * The demo world the Node-side suites share: the Stripe emulator with the catalog's prices (as
 * `npm run stripe:setup` makes them), the worker in Miniflare receiving its signed webhooks, and
 * the demo customers `npm start` seeds, played for real through the lifecycle API
 * (scripts/demo/seed.ts).
 */
import type Stripe from "stripe";
import type { Emulator } from "../../packages/stripe-emulator/src/index.ts";
import { seedDemo, type SeedReport } from "../../scripts/demo/seed.ts";
import { startSystem } from "./system.ts";
import type { WorkerHarness } from "./worker.ts";

export interface DemoWorld {
  emulator: Emulator;
  worker: WorkerHarness;
  stripe: Stripe;
  report: SeedReport;
  /** Every step the seed could not play (refused, failed), as `<user>: <what>`; empty when all went through. */
  issues: string[];
  dispose(): Promise<void>;
}

export async function demoWorld(opts: { secretKey: string; customers: number; days?: number; now?: number; concurrency?: number }): Promise<DemoWorld> {
  // The endpoint subscribes to exactly the handled types (npm run stripe:setup), so the demo's
  // stories show that no event the worker needs is missing from that list.
  const { emulator, stripe, worker } = await startSystem({
    secretKey: opts.secretKey,
    emulator: { taxRates: { "US-CA": 725 }, invoiceFinalizeDelaySeconds: 3600 },
    queueBatchTimeoutSeconds: 0.05,
    // As npm start's wrangler.dev.toml: every new event of a batch processed in its run.
    bindings: { EVENTS_PROCESS_PER_RUN: "100" },
  });
  const scheduled = await worker.mf.getWorker();
  const issues: string[] = [];
  const report = await seedDemo(
    {
      workerUrl: worker.url,
      serviceKey: worker.serviceKey,
      adminKey: worker.adminKey,
      stripe,
      emulatorUrl: emulator.url,
      emulatorKey: emulator.secretKey,
      idle: () => emulator.idle(),
      flushed: () => emulator.flushed(),
      drain: () => worker.drainQueue(),
      // The minute cron at the real time, as Cloudflare runs it (a run dated later would stamp the
      // mirror with a future sync time that every later, real-time write yields to), with the
      // events left for it due now rather than a lease from now: minutes pass in a moment here.
      sweep: async () => {
        await worker.db.prepare("update stripe_events set next_attempt_at = ? where status = 'pending' and lease_until is null").bind(Date.now()).run();
        await scheduled.scheduled({ cron: "* * * * *", scheduledTime: new Date() });
      },
      dunning: async () => {
        await scheduled.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
      },
    },
    {
      customers: opts.customers,
      days: opts.days ?? 365,
      now: opts.now ?? Math.floor(Date.now() / 1000),
      concurrency: opts.concurrency ?? 8,
      onIssue: (c, what) => issues.push(`${c.userId} (${c.story}): ${what}`),
    },
  );
  return {
    emulator,
    worker,
    stripe,
    report,
    issues,
    async dispose() {
      await worker.dispose();
      await emulator.stop();
    },
  };
}
