/**
 * Cancellation with a retention offer first. The first time a user asks to cancel (and unless
 * they skip it), the catalog's policy picks an offer for their tier (mobile: move to local;
 * local: a discount) and nothing is canceled. Asked again, or with `skip_offer`, the
 * subscription is set to cancel at the period end; an open offer is then declined. Every
 * request is stored with its reason and feedback for churn analysis.
 */
import { and, eq } from "drizzle-orm";
import type { Actor } from "../audit";
import { catalog as defaultCatalog, findTier, monthsOf, periodLabel, type Catalog, type RetentionOfferPolicy, type Tier } from "../catalog";
import { cancellationRequests, retentionOffers, type CANCELLATION_REASONS } from "../db/schema";
import { DomainError } from "../errors";
import { managedSubscription, recordChange, type Managed, type ManageDeps } from "./managed";
import { ms } from "../stripe-sync";

export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

export interface CancelInput {
  reason: CancellationReason;
  feedback?: string | undefined;
  skipOffer?: boolean | undefined;
}

export interface OfferView {
  id: string;
  kind: "downgrade" | "discount";
  description: string;
  /** downgrade: the tier offered instead. */
  to_tier?: string;
  /** discount: percent off each invoice for `duration_in_months`, or off the next one (`once`, annual and multi-year plans). */
  percent_off?: number;
  duration?: "once" | "repeating";
  duration_in_months?: number;
  /** What the user would pay per billing period under the offer, integer cents before tax. */
  amount?: number;
  currency: string;
}

export type CancelResult = { canceled: false; offer: OfferView } | { canceled: true; cancel_at: number | null };

type OfferRow = typeof retentionOffers.$inferSelect;

/** What `retention_offers.terms` holds. */
export interface OfferTerms {
  to_tier?: string;
  percent_off?: number;
  duration?: "once" | "repeating";
  duration_in_months?: number;
  amount?: number;
}

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

/** The offer the policy makes to a subscriber of `tier`, or null when it makes none that applies. */
function offerFor(m: Managed, tier: Tier | null, from: Catalog): { kind: "downgrade" | "discount"; terms: Record<string, unknown>; description: string; amount: number } | null {
  const policy: RetentionOfferPolicy | undefined = tier ? from.policy.retention[tier.key] : undefined;
  if (!policy || !tier || !m.cycle) return null;
  const period = periodLabel(m.cycle);
  if (policy.kind === "downgrade") {
    const to = findTier(policy.to_tier, from);
    const price = to?.prices.find((p) => p.billingCycle === m.cycle);
    if (!to || !price) return null;
    return {
      kind: "downgrade",
      terms: { to_tier: to.key },
      amount: price.unit.amount,
      description: `Instead of canceling, switch to ${to.name} for ${dollars(price.unit.amount)}/${period}${from.policy.change.downgrade === "period_end" ? " from your next renewal" : ""}: you keep ${to.features.map((f) => from.features.find((x) => x.key === f)?.description.toLowerCase() ?? f).join(", ")}.`,
    };
  }
  const unit = m.item.price.unit_amount ?? 0;
  // Stripe's percent-off rounding: the discount is rounded to the cent, half up. Before tax.
  const amount = unit - Math.round((unit * policy.percent_off) / 100);
  if (monthsOf(m.cycle) >= 12) {
    // A discount for some months would run out before an annual or multi-year renewal: it goes on the next one.
    return {
      kind: "discount",
      terms: { percent_off: policy.percent_off, duration: "once" },
      amount,
      description: `Stay on ${tier.name} with ${policy.percent_off} % off your next renewal: ${dollars(amount)} instead of ${dollars(unit)} for the ${period}.`,
    };
  }
  const months = policy.duration_in_months;
  return {
    kind: "discount",
    terms: { percent_off: policy.percent_off, duration: "repeating", duration_in_months: months },
    amount,
    description: `Stay on ${tier.name} with ${policy.percent_off} % off for the next ${months} month${months === 1 ? "" : "s"}: ${dollars(amount)} instead of ${dollars(unit)} per ${period}.`,
  };
}

export function offerView(row: OfferRow, currency: string): OfferView {
  const terms = JSON.parse(row.terms) as OfferTerms;
  return {
    id: row.id,
    kind: row.kind,
    description: row.description,
    ...(terms.to_tier !== undefined ? { to_tier: terms.to_tier } : {}),
    ...(terms.percent_off !== undefined ? { percent_off: terms.percent_off } : {}),
    ...(terms.duration !== undefined ? { duration: terms.duration } : {}),
    ...(terms.duration_in_months !== undefined ? { duration_in_months: terms.duration_in_months } : {}),
    ...(terms.amount !== undefined ? { amount: terms.amount } : {}),
    currency,
  };
}

function isUniqueViolation(e: unknown): boolean {
  const text = String((e as { message?: unknown })?.message ?? e) + String((e as { cause?: unknown })?.cause ?? "");
  return /UNIQUE constraint failed: retention_offers/.test(text);
}

export async function requestCancellation(deps: ManageDeps, who: Actor, userId: string, input: CancelInput, from: Catalog = defaultCatalog): Promise<CancelResult> {
  const { db, stripe } = deps;
  const m = await managedSubscription(deps, userId);
  // Asked twice: the first request already scheduled it.
  if (m.sub.cancel_at_period_end || m.sub.cancel_at !== null) return { canceled: true, cancel_at: m.sub.cancel_at ?? null };
  const feedback = input.feedback ?? null;
  const now = m.now * 1000;
  const prior = await db.select().from(retentionOffers).where(eq(retentionOffers.userId, userId)).get();
  const offer = input.skipOffer || prior ? null : offerFor(m, m.tier, from);

  if (offer) {
    const row: OfferRow = {
      id: `offer_${crypto.randomUUID().replaceAll("-", "")}`,
      userId,
      subscriptionId: m.sub.id,
      kind: offer.kind,
      terms: JSON.stringify({ ...offer.terms, amount: offer.amount }),
      description: offer.description,
      status: "open",
      createdAt: now,
      decidedAt: null,
    };
    try {
      await deps.audit.commit(async () => ({
        statements: [
          db.insert(retentionOffers).values(row),
          db.insert(cancellationRequests).values({ userId, subscriptionId: m.sub.id, at: now, reason: input.reason, feedback, outcome: "offered", offerId: row.id, cancelAt: null }),
        ],
        entries: [
          { actor: who, action: "subscription.retention_offered", subject: { type: "user", id: userId }, after: { offer: row.id, kind: row.kind, terms: JSON.parse(row.terms), reason: input.reason } },
        ],
        result: undefined,
      }));
    } catch (e) {
      // A concurrent request made the user's one offer first: answer with that one.
      if (!isUniqueViolation(e)) throw e;
      const winner = await db.select().from(retentionOffers).where(eq(retentionOffers.userId, userId)).get();
      if (!winner) throw e;
      return { canceled: false, offer: offerView(winner, m.item.price.currency) };
    }
    return { canceled: false, offer: offerView(row, m.item.price.currency) };
  }

  // A pending change at the period end is dropped: the subscription ends there instead.
  if (m.sub.schedule) await stripe.subscriptionSchedules.release(typeof m.sub.schedule === "string" ? m.sub.schedule : m.sub.schedule.id);
  const updated = await stripe.subscriptions.update(m.sub.id, {
    cancel_at_period_end: true,
    cancellation_details: { feedback: input.reason, ...(feedback ? { comment: feedback } : {}) },
  });
  const cancelAt = updated.cancel_at ?? null;
  const declined = prior?.status === "open" ? prior.id : null;
  await recordChange(
    deps,
    who,
    { ...m, sub: updated },
    { action: "subscription.cancel_requested", after: { cancel_at: cancelAt, reason: input.reason, declined_offer: declined } },
    {
      statements: () => [
        db.insert(cancellationRequests).values({ userId, subscriptionId: m.sub.id, at: now, reason: input.reason, feedback, outcome: "canceled", offerId: prior?.id ?? null, cancelAt: ms(cancelAt) }),
        ...(declined
          ? [
              db
                .update(retentionOffers)
                .set({ status: "declined", decidedAt: now })
                .where(and(eq(retentionOffers.id, declined), eq(retentionOffers.status, "open"))),
            ]
          : []),
      ],
    },
  );
  return { canceled: true, cancel_at: cancelAt };
}

/** The user's offer by id; not_found naming `offer_id` when it is not theirs or does not exist. */
export async function findOffer(deps: Pick<ManageDeps, "db">, userId: string, offerId: string): Promise<OfferRow> {
  const row = await deps.db
    .select()
    .from(retentionOffers)
    .where(and(eq(retentionOffers.id, offerId), eq(retentionOffers.userId, userId)))
    .get();
  if (!row) throw new DomainError("not_found", `The user ${userId} has no offer ${offerId}.`, { errors: [{ field: "offer_id", message: "no such offer for this user" }] });
  return row;
}
