/**
 * Cron dispatch. Every job is idempotent and bounded, so overlapping or repeated runs are safe.
 *   * * * * *    sweep: retry due webhook events; continue a resync in progress
 *   *\/15 * * * * dunning tick (with the dunning issue) and the sweep
 *   17 3 * * *   reconciliation against Stripe's event list
 */
import { dueEvents } from "./billing/events";
import { processEvent } from "./billing/process";
import { reconcile } from "./billing/reconcile";
import { readResync, resyncChunk } from "./billing/resync";
import { stripeClient } from "./billing/stripe";
import { getDb } from "./db/client";
import { stripeConfig, type Env } from "./env";

export const CRONS = { sweep: "* * * * *", dunning: "*/15 * * * *", reconcile: "17 3 * * *" } as const;
const SWEEP_BATCH = 50;

export async function sweep(env: Env, now: () => number): Promise<{ processed: number; retried: number }> {
  const db = getDb(env.DB);
  const stripe = stripeClient(stripeConfig(env));
  let processed = 0;
  let retried = 0;
  for (const id of await dueEvents(db, now(), SWEEP_BATCH)) {
    const outcome = await processEvent({ db, stripe, now }, id);
    if (outcome === "processed") processed++;
    else if (outcome !== "skipped") retried++;
  }
  const resync = await readResync(db);
  if (resync && resync.phase !== "done") await resyncChunk({ db, stripe, now });
  return { processed, retried };
}

export async function runCron(cron: string, env: Env, now: () => number = Date.now): Promise<void> {
  switch (cron) {
    case CRONS.sweep:
    case CRONS.dunning:
      await sweep(env, now);
      return;
    case CRONS.reconcile:
      await reconcile({ db: getDb(env.DB), stripe: stripeClient(stripeConfig(env)), now });
      return;
    default:
      console.error(JSON.stringify({ level: "error", message: `no job for cron ${cron}; see worker/src/cron.ts` }));
  }
}
