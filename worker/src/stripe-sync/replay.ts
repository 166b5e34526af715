/**
 * Replay: put stored events back in the queue and process some of them at once; the rest are
 * due for the minute sweep.
 */
import { DomainError } from "../errors";
import type { Services } from "../services";
import { byId, createdBetween, requeue } from "./events";
import { processEvent } from "./process";

/** Events processed within the request; more would risk the request's time and subrequests. */
export const REPLAY_NOW = 50;

export interface ReplayResult {
  requeued: number;
  processed: number;
  failed: number;
}

type Deps = Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">;

/** Counts only the events this replay put back. */
async function processSome(deps: Deps, ids: string[]): Promise<ReplayResult> {
  let processed = 0;
  let failed = 0;
  for (const id of ids.slice(0, REPLAY_NOW)) {
    if ((await processEvent(deps, id)) === "processed") processed++;
    else failed++;
  }
  return { requeued: ids.length, processed, failed };
}

export async function replayEvent(deps: Deps, id: string): Promise<ReplayResult> {
  const ids = await requeue(deps.db, byId(id), deps.clock.now());
  if (ids.length === 0)
    throw new DomainError("not_found", `No stored event has the id ${id}, or it is being processed right now.`, { errors: [{ field: "id", message: "no such event, or processing" }] });
  return processSome(deps, ids);
}

/** Every stored event Stripe created between `from` and `to` (ms, inclusive). */
export async function replayRange(deps: Deps, from: number, to: number): Promise<ReplayResult> {
  if (to < from) throw new DomainError("validation_failed", "`to` is before `from`.", { errors: [{ field: "to", message: "must not be before from" }] });
  return processSome(deps, await requeue(deps.db, createdBetween(from, to), deps.clock.now()));
}
