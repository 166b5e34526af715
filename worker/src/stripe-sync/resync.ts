/**
 * Full resync (disaster recovery): rebuilds customers, subscriptions, invoices, refunds (with
 * the credit notes of the invoices they refund), disputes (with the dispute policy's decision
 * Stripe keeps on each) and entitlements from Stripe's lists. Each call does a bounded chunk of pages and stores its
 * cursor in sync_state, so it fits a Worker's CPU limit and resumes where it stopped
 * (POST /v1/admin/resync, `npm run resync`, and the minute cron all continue it).
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { syncState } from "../db/schema";
import type { Services } from "../services";
import { idOf, withEveryLine } from "./mirror";
import { emptyFetched, emptyTargets, subscriptionCoupon, syncObjects, writeObjects } from "./sync";
import type { CouponTerms } from "./mirror";

const KEY = "resync";
const PHASES = ["customers", "subscriptions", "invoices", "refunds", "disputes", "done"] as const;
type Phase = (typeof PHASES)[number];

export interface ResyncState {
  phase: Phase;
  cursor: string | null;
  started_at: number;
  finished_at: number | null;
  counts: Record<"customers" | "subscriptions" | "invoices" | "refunds" | "disputes", number>;
}

const NO_COUNTS: ResyncState["counts"] = { customers: 0, subscriptions: 0, invoices: 0, refunds: 0, disputes: 0 };

export async function readResync(db: Db): Promise<ResyncState | null> {
  const row = await db.select().from(syncState).where(eq(syncState.key, KEY)).get();
  if (!row) return null;
  const state = JSON.parse(row.value) as ResyncState;
  // A resync stored before a phase was added has no count for it yet.
  return { ...state, counts: { ...NO_COUNTS, ...state.counts } };
}

async function save(db: Db, state: ResyncState, now: number) {
  await db
    .insert(syncState)
    .values({ key: KEY, value: JSON.stringify(state), updatedAt: now })
    .onConflictDoUpdate({ target: syncState.key, set: { value: JSON.stringify(state), updatedAt: now } });
}

export async function startResync(db: Db, now: number): Promise<ResyncState> {
  const state: ResyncState = { phase: "customers", cursor: null, started_at: now, finished_at: null, counts: { ...NO_COUNTS } };
  await save(db, state, now);
  return state;
}

/** Runs up to `pages` pages of 100 objects; returns the state after them. */
export async function resyncChunk(deps: Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">, pages = 3): Promise<ResyncState | null> {
  const state = await readResync(deps.db);
  if (!state || state.phase === "done") return state;
  const why = { actor: { type: "system" as const, id: "resync" }, cause: "resync", at: deps.clock.now() };
  const coupons = new Map<string, CouponTerms>();
  for (let i = 0; i < pages && state.phase !== "done"; i++) {
    const page = { limit: 100, ...(state.cursor ? { starting_after: state.cursor } : {}) };
    const fetched = emptyFetched();
    let last: string | undefined;
    let hasMore = false;
    const syncedAt = deps.clock.now();
    if (state.phase === "customers") {
      const list = await deps.stripe.customers.list({ ...page, expand: ["data.invoice_settings.default_payment_method"] });
      for (const c of list.data) fetched.customers.set(c.id, c), fetched.syncedAt.set(c.id, syncedAt);
      last = list.data.at(-1)?.id;
      hasMore = list.has_more;
    } else if (state.phase === "subscriptions") {
      const list = await deps.stripe.subscriptions.list({ ...page, status: "all", expand: ["data.default_payment_method"] });
      for (const sub of list.data) fetched.subscriptions.set(sub.id, { sub, coupon: await subscriptionCoupon(deps.stripe, deps.clock, sub, coupons), syncedAt });
      last = list.data.at(-1)?.id;
      hasMore = list.has_more;
    } else if (state.phase === "invoices") {
      const list = await deps.stripe.invoices.list(page);
      // With every line: an invoice mirrored before lines were gains them here (recognized revenue needs them).
      for (const inv of list.data) fetched.invoices.set(inv.id, { inv: await withEveryLine(deps.stripe, inv), syncedAt });
      last = list.data.at(-1)?.id;
      hasMore = list.has_more;
    } else if (state.phase === "disputes") {
      // Mirrored as their events mirror them: each with its charge's invoice. No policy runs: a
      // decision is already on the dispute in Stripe, and an undecided one is decided by its next event.
      const list = await deps.stripe.disputes.list(page);
      const targets = emptyTargets();
      for (const d of list.data) targets.disputes.add(d.id);
      await syncObjects(deps, why, targets);
      state.counts.disputes = (state.counts.disputes ?? 0) + list.data.length;
      last = list.data.at(-1)?.id;
      hasMore = list.has_more;
    } else {
      // A refund is mirrored with its charge's other refunds and its invoice's credit notes: the sync's own charge fetch.
      const list = await deps.stripe.refunds.list(page);
      const targets = emptyTargets();
      for (const r of list.data) if (idOf(r.charge)) targets.charges.add(idOf(r.charge)!);
      await syncObjects(deps, why, targets);
      state.counts.refunds = (state.counts.refunds ?? 0) + list.data.length;
      last = list.data.at(-1)?.id;
      hasMore = list.has_more;
    }
    if (state.phase !== "refunds" && state.phase !== "disputes") {
      await writeObjects(deps, why, fetched);
      state.counts[state.phase] += fetched.customers.size + fetched.subscriptions.size + fetched.invoices.size;
    }
    if (hasMore && last) state.cursor = last;
    else {
      state.phase = PHASES[PHASES.indexOf(state.phase) + 1]!;
      state.cursor = null;
      if (state.phase === "done") state.finished_at = deps.clock.now();
    }
    await save(deps.db, state, deps.clock.now());
  }
  return state;
}

/** One step of a resync, started (or restarted) first when none is in progress. */
export async function runResync(
  deps: Pick<Services, "db" | "stripe" | "clock" | "audit" | "log" | "appBaseUrl" | "dunning" | "syncFollowers">,
  opts: { restart: boolean; pages: number },
): Promise<ResyncState> {
  const current = await readResync(deps.db);
  if (opts.restart || !current || current.phase === "done") await startResync(deps.db, deps.clock.now());
  return (await resyncChunk(deps, opts.pages))!;
}
