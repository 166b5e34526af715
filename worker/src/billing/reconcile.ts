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

export async function reconcile(deps: Pick<Services, "db" | "stripe" | "clock" | "audit" | "log">, maxEvents = 2000): Promise<ReconcileResult> {
  const row = await deps.db.select().from(syncState).where(eq(syncState.key, KEY)).get();
  const since = row ? Number(row.value) - OVERLAP_S : Math.floor(deps.clock.now() / 1000) - WINDOW_S;
  let listed = 0;
  let stored = 0;
  let newest = row ? Number(row.value) : since;
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
    newest = Math.max(newest, event.created);
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
    await deps.db.insert(syncState).values({ key: KEY, value: String(newest), updatedAt: deps.clock.now() }).onConflictDoUpdate({ target: syncState.key, set: { value: String(newest), updatedAt: deps.clock.now() } });
  }
  return { listed, stored, checkpoint: newest, complete };
}
