/**
 * Cron dispatch. Every job is idempotent and bounded, so overlapping or repeated runs are safe.
 *   * * * * *    sweep: retry due webhook events; continue a resync in progress; suspend
 *                past-due users whose grace ran out
 *   *\/15 * * * * dunning tick (with the dunning issue) and the sweep
 *   17 3 * * *   reconciliation against Stripe's event list
 */
import { dueEvents } from "./billing/events";
import { processEvent } from "./billing/process";
import { reconcile } from "./billing/reconcile";
import { readResync, resyncChunk } from "./billing/resync";
import { suspendLapsed } from "./entitlements/suspend";
import type { Services } from "./services";

export const CRONS = { sweep: "* * * * *", dunning: "*/15 * * * *", reconcile: "17 3 * * *" } as const;
const SWEEP_BATCH = 50;

export async function sweep(s: Services): Promise<{ processed: number; retried: number; suspended: number }> {
  let processed = 0;
  let retried = 0;
  for (const id of await dueEvents(s.db, s.clock.now(), SWEEP_BATCH)) {
    const outcome = await processEvent(s, id);
    if (outcome === "processed") processed++;
    else if (outcome !== "skipped") retried++;
  }
  const resync = await readResync(s.db);
  if (resync && resync.phase !== "done") await resyncChunk(s);
  const { suspended } = await suspendLapsed(s);
  return { processed, retried, suspended: suspended.length };
}

export async function runCron(cron: string, s: Services): Promise<void> {
  switch (cron) {
    case CRONS.sweep:
    case CRONS.dunning:
      await sweep(s);
      return;
    case CRONS.reconcile:
      await reconcile(s);
      return;
    default:
      s.log.log("error", `no job for cron ${cron}; see worker/src/cron.ts`);
  }
}
