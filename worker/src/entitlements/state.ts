/**
 * A user's entitlement state, derived from their mirrored subscriptions and the catalog.
 * The webhook sync, dunning and tests all go through `deriveEntitlement` + `upsertEntitlement`,
 * so there is one rule for "what may this user use now".
 */
import { eq, sql } from "drizzle-orm";
import type { Actor } from "../audit";
import { findTier, GRACE_DAYS, type Catalog, catalog as defaultCatalog } from "../catalog";
import type { Db } from "../db/client";
import { entitlementAsRead, guard } from "../db/guard";
import { entitlementChanges, entitlements, type EntitlementStatus, subscriptions } from "../db/schema";
import { instantOrNull } from "../instant";
import { outboxStatements } from "../outbox";
import type { Seat } from "./seats";
import type { Services } from "../services";

export { GRACE_DAYS };
const DAY = 86_400_000;

export interface EntitlementState {
  userId: string;
  customerId: string | null;
  subscriptionId: string | null;
  tier: string | null;
  status: EntitlementStatus;
  trialEnd: number | null;
  graceUntil: number | null;
  suspendedAt: number | null;
  currentPeriodEnd: number | null;
  /** The organization whose seat grants this (tier agency), null when the user's own subscription does. */
  orgId: string | null;
}

type Sub = typeof subscriptions.$inferSelect;
export type EntitlementRow = typeof entitlements.$inferSelect;

export function noEntitlement(userId: string): EntitlementState {
  return { userId, customerId: null, subscriptionId: null, tier: null, status: "none", trialEnd: null, graceUntil: null, suspendedAt: null, currentPeriodEnd: null, orgId: null };
}

/** Stripe's subscription status, seen from access: which of our statuses it means. */
function statusOf(sub: Sub): EntitlementStatus {
  // Collection paused on a live subscription: the user asked for a break (subscriptions/pause.ts).
  if (sub.pauseBehavior !== null && (sub.status === "active" || sub.status === "past_due" || sub.status === "trialing")) return "paused";
  switch (sub.status) {
    case "trialing":
      return "trialing";
    case "active":
      return "active";
    case "past_due":
      return "past_due";
    case "unpaid":
      return "suspended";
    case "paused":
      // Stripe pauses a subscription whose trial ended without a payment method.
      return sub.trialEnd !== null ? "trial_expired" : "suspended";
    case "canceled":
      // Ended within a day of the trial's end: the trial was never converted.
      return sub.trialEnd !== null && sub.endedAt !== null && sub.endedAt <= sub.trialEnd + DAY ? "trial_expired" : "canceled";
    default:
      return "none";
  }
}

const GRANTING = new Set(["trialing", "active", "past_due"]);

/** The features and limits a state grants now: a tier's, or nothing. */
export function grants(state: EntitlementState, from: Catalog = defaultCatalog): { features: string[]; limits: Record<string, number | null> } {
  const tier = state.tier ? findTier(state.tier, from) : undefined;
  const granting = GRANTING.has(state.status) || (state.status === "paused" && from.policy.paused_keeps_access);
  if (!tier || !granting) return { features: [], limits: Object.fromEntries(from.limits.map((l) => [l.key, 0])) };
  return { features: [...tier.features], limits: { ...tier.limits } };
}

const PRIORITY: Record<EntitlementStatus, number> = { active: 7, trialing: 6, past_due: 5, paused: 4, suspended: 3, trial_expired: 2, canceled: 1, none: 0 };

/**
 * When a subscription's unpaid debt began: the first failed payment attempt of its oldest
 * invoice that is still unpaid (ms). Grace runs from there, per unpaid invoice: an invoice that
 * gets paid ends its grace, and a later failure of another invoice starts a new one.
 */
export type GraceAnchors = ReadonlyMap<string, number>;

/**
 * Past due beyond its grace date counts as suspended, whether the cron, an event or a read
 * finds it first; `suspendedAt` is the moment the grace ran out, so every path agrees on it.
 */
export function effectiveState(state: EntitlementState, nowMs: number): EntitlementState {
  if (state.status === "past_due" && state.graceUntil !== null && state.graceUntil <= nowMs) {
    return { ...state, status: "suspended", suspendedAt: state.suspendedAt ?? state.graceUntil };
  }
  return state;
}

/**
 * What a seat grants: while the organization's subscription runs, its tier, active. An overdue
 * invoice (Stripe's past_due or unpaid) leaves the seats on: an agency's late payment earns
 * interest, not a cutoff, unless the policy sets `suspend_after_days_overdue` (not applied yet:
 * the default is never). A term that ended, or a subscription not mirrored yet, grants nothing.
 */
function seatStatus(sub: Sub | null): EntitlementStatus | null {
  if (!sub) return null;
  return sub.status === "active" || sub.status === "past_due" || sub.status === "unpaid" || sub.status === "trialing" ? "active" : null;
}

export function deriveEntitlement(
  userId: string,
  subs: Sub[],
  prior: Pick<EntitlementState, "status" | "suspendedAt"> | undefined,
  now: number,
  anchors: GraceAnchors = new Map(),
  from: Catalog = defaultCatalog,
  seats: readonly Seat[] = [],
): EntitlementState {
  // Of several subscriptions and seats, the one that grants most access decides: a seat of
  // agency (every feature of mobile, a higher rank) wins over the user's own plan while it runs.
  const own = subs.map((s) => ({ s, status: statusOf(s), rank: findTier(s.tier ?? "", from)?.rank ?? 0, orgId: null as string | null }));
  const granted = seats.flatMap((seat) => {
    const status = seatStatus(seat.subscription);
    return status && seat.subscription ? [{ s: seat.subscription, status, rank: findTier(seat.subscription.tier ?? "", from)?.rank ?? 0, orgId: seat.orgId as string | null }] : [];
  });
  const ranked = [...own, ...granted].sort((a, b) => PRIORITY[b.status] - PRIORITY[a.status] || b.rank - a.rank || b.s.createdAt - a.s.createdAt);
  const best = ranked[0];
  if (!best) return noEntitlement(userId);
  if (best.orgId !== null) {
    // The organization's subscription is not the user's: nothing of it is theirs to change or pay.
    return {
      userId,
      customerId: null,
      subscriptionId: null,
      tier: best.s.tier,
      status: best.status,
      trialEnd: null,
      graceUntil: null,
      suspendedAt: null,
      currentPeriodEnd: best.s.cancelAt ?? best.s.currentPeriodEnd,
      orgId: best.orgId,
    };
  }
  const status = best.status;
  let graceUntil: number | null = null;
  if (status === "past_due") {
    // Anchored on Stripe's time (the failed attempt), not on when we noticed, so a replay or a
    // resync computes the same date. Without a recorded attempt, the sync passes the oldest
    // unpaid invoice's creation (stripe-sync/sync.ts graceAnchors); without that either (a mirror
    // rebuilt without its invoices), the period start is the best Stripe-side time there is.
    const anchor = anchors.get(best.s.id) ?? best.s.currentPeriodStart ?? now;
    graceUntil = anchor + GRACE_DAYS * DAY;
  }
  // Suspended stays suspended until the debt is paid: a later sync that still finds the
  // subscription past due (with a grace anchored later, say on an invoice whose failure it has
  // not seen yet) must not hand access back.
  const stillSuspended = status === "past_due" && prior?.status === "suspended";
  const suspendedAt = status === "suspended" || stillSuspended ? ((prior?.status === "suspended" ? prior.suspendedAt : null) ?? now) : null;
  return effectiveState(
    {
      userId,
      customerId: best.s.customerId,
      subscriptionId: best.s.id,
      tier: best.s.tier,
      status: stillSuspended ? "suspended" : status,
      trialEnd: best.s.trialEnd,
      graceUntil,
      suspendedAt,
      currentPeriodEnd: best.s.currentPeriodEnd,
      orgId: null,
    },
    now,
  );
}

export async function readEntitlement(db: Db, userId: string): Promise<EntitlementState> {
  return (await readEntitlementVersioned(db, userId)).state;
}

/** The state and the row's version (undefined: no row yet), for a write conditional on both. */
export async function readEntitlementVersioned(db: Db, userId: string): Promise<{ state: EntitlementState; version: number | undefined }> {
  const row = await db.select().from(entitlements).where(eq(entitlements.userId, userId)).get();
  return row ? { state: toState(row), version: row.version } : { state: noEntitlement(userId), version: undefined };
}

function toState(row: EntitlementRow): EntitlementState {
  const { updatedAt: _updated, version: _version, ...state } = row;
  return state;
}

export function sameState(a: EntitlementState, b: EntitlementState): boolean {
  return (Object.keys(a) as (keyof EntitlementState)[]).every((k) => a[k] === b[k]);
}

/**
 * Writes the state as the next version of the row read at `readVersion`, its row in the changes
 * feed (`entitlement_changes`) and its `entitlement.changed` event in the outbound webhooks'
 * outbox (`before` is the state read with that version): statements that must go into the same
 * batch, which is why they come as one tuple (spread it: `statements.push(...upsertEntitlement(…))`).
 * This is the only writer of `entitlements`, so no entitlement changes without the feed and the
 * outbox naming it. Pair it with the guard `entitlementAsRead(userId, readVersion)` in the same batch.
 */
export function upsertEntitlement(db: Db, state: EntitlementState, now: number, readVersion: number | undefined, before: EntitlementState) {
  const values = { ...state, updatedAt: now, version: (readVersion ?? 0) + 1 };
  return [
    db
      .insert(entitlements)
      .values(values)
      .onConflictDoUpdate({ target: entitlements.userId, set: { ...values, userId: sql`excluded.user_id` } }),
    db.insert(entitlementChanges).values({ userId: state.userId, changedAt: now, status: state.status, tier: state.tier }),
    ...outboxStatements(
      db,
      {
        type: "entitlement.changed",
        userId: state.userId,
        occurredAt: now,
        data: { user_id: state.userId, before: readVersion === undefined ? null : entitlementOf(before), after: entitlementOf(state) },
      },
      now,
    ),
  ] as const;
}

/** An entitlement as the `entitlement.changed` event carries it: a token's claims without iss, aud, sub, iat and exp. */
export function entitlementOf(state: EntitlementState, from: Catalog = defaultCatalog) {
  const { features, limits } = grants(state, from);
  return { tier: state.tier, status: state.status, features, limits, trial_end: instantOrNull(state.trialEnd), grace_until: instantOrNull(state.graceUntil) };
}

/** What the audit log keeps of an entitlement change. */
export function entitlementSummary(s: EntitlementState) {
  return { tier: s.tier, status: s.status, subscription_id: s.subscriptionId, grace_until: s.graceUntil, suspended_at: s.suspendedAt, ...(s.orgId ? { org_id: s.orgId } : {}) };
}

/**
 * Sets a user's state directly (tests, and dunning's suspension), audited. The sync computes
 * the state with deriveEntitlement instead and writes it in its own batch.
 */
export async function setEntitlementState(deps: Pick<Services, "db" | "clock" | "audit">, state: EntitlementState, who: Actor, action = "entitlement.set"): Promise<void> {
  const { db } = deps;
  await deps.audit.commit(async () => {
    const { state: before, version } = await readEntitlementVersioned(db, state.userId);
    return {
      statements: [guard(db, entitlementAsRead(state.userId, version)), ...upsertEntitlement(db, state, deps.clock.now(), version, before)],
      entries: [
        {
          actor: who,
          action,
          subject: { type: "user", id: state.userId },
          before: entitlementSummary(before),
          after: entitlementSummary(state),
        },
      ],
      result: undefined,
    };
  });
}
