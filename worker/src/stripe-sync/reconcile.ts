/**
 * Reconciliation: lists Stripe's events since the last checkpoint and stores and processes any
 * that never reached the webhook (an outage, a deleted endpoint). Stored events dedupe by id,
 * so overlapping runs and the 5-minute overlap window cost nothing but a lookup.
 */
import { eq } from "drizzle-orm";
import { syncState } from "../db/schema";
import type { Services } from "../services";
import { storeEvent } from "./events";
import { malformedEventFields } from "./event-types";
import { needsProcessing, processEvent } from "./process";

const KEY = "reconcile:checkpoint";
const OVERLAP_S = 300;
/** Stripe keeps events for 30 days; a first run looks that far back. */
const WINDOW_S = 30 * 86_400;
/** Upper bound on one run's walk, whatever it finds, so a run always ends within CPU limits. */
const LIST_CAP = 50_000;

export interface ReconcileResult {
  listed: number;
  stored: number;
  checkpoint: number;
  complete: boolean;
}

export async function reconcile(deps: Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">, maxEvents = 2000): Promise<ReconcileResult> {
  const row = await deps.db.select().from(syncState).where(eq(syncState.key, KEY)).get();
  // An event's `created` on a test clock is simulated time, which may be far ahead of ours. The
  // checkpoint never passes this run's own time less the overlap, or the next run would list
  // only from the clock's future and miss everything created in real time until then. (A
  // checkpoint an older version stored in the future is pulled back the same way.)
  const nowS = Math.floor(deps.clock.now() / 1000);
  const ceiling = nowS - OVERLAP_S;
  const checkpoint = row ? Math.min(Number(row.value), ceiling) : undefined;
  const since = checkpoint !== undefined ? checkpoint - OVERLAP_S : nowS - WINDOW_S;
  let listed = 0;
  let stored = 0;
  let newest = checkpoint ?? since;
  let complete = true;
  const missing: string[] = [];
  for await (const event of deps.stripe.events.list({ created: { gte: since }, limit: 100 })) {
    listed++;
    // The cap counts only events we did not have: re-listing known ones costs a lookup each,
    // and counting them would let a busy window stall the checkpoint for good.
    if (stored >= maxEvents || listed > LIST_CAP) {
      complete = false;
      break;
    }
    // Every type is stored, as the webhook stores it; only a body that is no event is left out.
    if (malformedEventFields(event).length > 0) {
      deps.log.log("warn", "reconciliation skipped a malformed event from Stripe's list", { event: (event as { id?: unknown }).id });
      continue;
    }
    // Events from a test clock's future are listed again by every run (the window starts before
    // them): each costs a lookup, and storing dedupes them.
    newest = Math.min(Math.max(newest, event.created), ceiling);
    const work = needsProcessing(event.type);
    const now = deps.clock.now();
    if (await storeEvent(deps.db, { event, payload: JSON.stringify(event), source: "reconcile", receivedAt: now, needsProcessing: work }, now)) {
      stored++;
      if (work) missing.push(event.id);
    }
  }
  // Oldest first, as Stripe created them; order does not matter for correctness, only for history dates.
  for (const id of missing.reverse()) await processEvent(deps, id);
  // Only a complete walk may move the checkpoint: otherwise the rest would be skipped next time.
  if (complete) {
    await deps.db
      .insert(syncState)
      .values({ key: KEY, value: String(newest), updatedAt: deps.clock.now() })
      .onConflictDoUpdate({ target: syncState.key, set: { value: String(newest), updatedAt: deps.clock.now() } });
  }
  return { listed, stored, checkpoint: newest, complete };
}
