/**
 * Churn risk per paying or trialing customer: a score (0–100, the sum of the weights of the
 * reasons that apply, capped) and the reasons. Weights are data; signals come from the mirror.
 */
import { and, inArray, isNotNull, sql } from "drizzle-orm";
import { clockTimes, nowOfRow, subscriptionClock, type ClockDeps } from "../test-clocks";
import { subscriptions } from "../db/schema";
import { countedMrr, suspendedNow } from "./definitions";
import type { AnalyticsDeps, ChurnRiskCustomer, ChurnRiskQuery, ChurnRiskReason, ChurnRiskReport } from "./types";
import { instant } from "../instant";

const DAY = 86_400_000;

export const CHURN_RISK_WEIGHTS = {
  pending_cancellation: 45,
  past_due: 30,
  failed_payments: 10, // per failed attempt in the last 90 days, at most 2 counted
  recent_downgrade: 15, // within 60 days
  retention_offer_taken: 15,
  short_tenure: 10, // paying for less than 90 days
  card_expiring: 20, // the card that will be charged expires before the next renewal
} as const;

interface Row {
  id: string;
  customer_id: string;
  user_id: string | null;
  tier: string | null;
  status: string;
  mrr: number;
  cancel_at_period_end: number;
  cancel_at: number | null;
  suspended: number;
  failed: number;
  downgraded_at: number | null;
  offer_taken: number;
  first_paid: number | null;
  renews_at: number | null;
  pause_behavior: string | null;
  card_expires_at: number | null;
  /** The customer's now (ms): real time, or their test clock's. */
  now: number;
}

/** The statuses listed (as the query's own filter). */
const LIVE = ["active", "past_due", "trialing"] as const;

const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export async function churnRisk(deps: AnalyticsDeps & ClockDeps, q: ChurnRiskQuery = {}): Promise<ChurnRiskReport> {
  const limit = q.limit ?? 50;
  const minScore = q.min_score ?? 1;
  // Every window ("the last 90 days", "paying for N days") ends at the customer's own now: a
  // Stripe test clock's time for a customer on one (test-clocks.ts).
  const clocks = await deps.db
    .selectDistinct({ clock: subscriptionClock(subscriptions) })
    .from(subscriptions)
    .where(and(inArray(subscriptions.status, [...LIVE]), isNotNull(subscriptionClock(subscriptions))))
    .all();
  const times = await clockTimes(
    deps,
    clocks.map((c) => c.clock),
  );
  const now = times.wall;
  const rowNow = nowOfRow(times, sql`coalesce(s.test_clock, (select c.test_clock from customers c where c.id = s.customer_id))`);
  const rows = await deps.db.all<Row>(sql`
    select s.id, s.customer_id, s.user_id, s.tier, s.status, s.pause_behavior, ${countedMrr(sql`s.status`, sql`s.mrr`)} as mrr, s.cancel_at_period_end, s.cancel_at,
      ${rowNow} as now,
      ${suspendedNow(sql`s.id`)} as suspended,
      (select count(*) from payment_attempts p where p.customer_id = s.customer_id and p.outcome = 'failed' and p.at >= ${rowNow} - ${90 * DAY}) as failed,
      (select max(h.at) from subscription_history h
         where h.subscription_id = s.id and h.at >= ${rowNow} - ${60 * DAY}
           and h.mrr < (select h2.mrr from subscription_history h2 where h2.subscription_id = h.subscription_id and (h2.at < h.at or (h2.at = h.at and h2.id < h.id)) order by h2.at desc, h2.id desc limit 1)) as downgraded_at,
      exists (select 1 from retention_offers o where o.subscription_id = s.id and o.status = 'accepted') as offer_taken,
      (select min(h.at) from subscription_history h where h.customer_id = s.customer_id and h.status in ('active', 'past_due')) as first_paid,
      -- A trial's next charge is at its end; otherwise at the period's end.
      case when s.status = 'trialing' then coalesce(s.trial_end, s.current_period_end) else s.current_period_end end as renews_at,
      -- Stripe charges the subscription's own default payment method, else the customer's.
      case when s.default_payment_method_id is not null then s.card_expires_at
           else (select c.card_expires_at from customers c where c.id = s.customer_id) end as card_expires_at
    from subscriptions s
    where s.status in ('active', 'past_due', 'trialing')`);
  const out: ChurnRiskCustomer[] = [];
  for (const r of rows) {
    const reasons: ChurnRiskReason[] = [];
    const add = (code: ChurnRiskReason["code"], weight: number, detail: string) => reasons.push({ code, weight, detail });
    if (Number(r.cancel_at_period_end) || r.cancel_at !== null)
      add(
        "pending_cancellation",
        CHURN_RISK_WEIGHTS.pending_cancellation,
        r.cancel_at ? `Cancels on ${new Date(Number(r.cancel_at)).toISOString().slice(0, 10)}.` : "Set to cancel at the period end.",
      );
    if (r.status === "past_due") add("past_due", CHURN_RISK_WEIGHTS.past_due, Number(r.suspended) ? "Past due and suspended (dunning day 21)." : "An invoice is past due.");
    const renewsAt = r.renews_at === null ? null : Number(r.renews_at);
    const expiresAt = r.card_expires_at === null ? null : Number(r.card_expires_at);
    // Only a renewal that will be charged: a subscription ending first, or with its collection
    // paused, needs no card then.
    const renews = renewsAt !== null && !Number(r.cancel_at_period_end) && (r.cancel_at === null || Number(r.cancel_at) > renewsAt) && r.pause_behavior === null;
    // The card works through its expiry month: expiresAt is the first instant it no longer does.
    if (renews && expiresAt !== null && expiresAt <= renewsAt) {
      add(
        "card_expiring",
        CHURN_RISK_WEIGHTS.card_expiring,
        `The card on file expires ${month(expiresAt - 1)} (end of month), before the ${r.status === "trialing" ? "trial ends and the first charge" : "renewal"} on ${day(renewsAt)}.`,
      );
    }
    const failed = Number(r.failed);
    if (failed > 0) add("failed_payments", CHURN_RISK_WEIGHTS.failed_payments * Math.min(2, failed), `${failed} failed payment attempt${failed === 1 ? "" : "s"} in the last 90 days.`);
    if (r.downgraded_at !== null) add("recent_downgrade", CHURN_RISK_WEIGHTS.recent_downgrade, `MRR went down on ${new Date(Number(r.downgraded_at)).toISOString().slice(0, 10)}.`);
    if (Number(r.offer_taken)) add("retention_offer_taken", CHURN_RISK_WEIGHTS.retention_offer_taken, "Asked to cancel and took a retention offer instead.");
    const tenure = Number(r.now) - Number(r.first_paid);
    if (r.status !== "trialing" && r.first_paid !== null && tenure < 90 * DAY) add("short_tenure", CHURN_RISK_WEIGHTS.short_tenure, `Paying for ${Math.floor(tenure / DAY)} days.`);
    const score = Math.min(
      100,
      reasons.reduce((a, x) => a + x.weight, 0),
    );
    if (score < minScore) continue;
    out.push({
      customer_id: r.customer_id,
      user_id: r.user_id,
      subscription_id: r.id,
      tier: r.tier,
      status: Number(r.suspended) ? "suspended" : r.status,
      mrr: Number(r.suspended) ? 0 : Number(r.mrr),
      score,
      reasons,
    });
  }
  out.sort((a, b) => b.score - a.score || b.mrr - a.mrr || a.subscription_id.localeCompare(b.subscription_id));
  return {
    as_of: instant(now),
    customers: out.slice(0, limit),
  };
}
