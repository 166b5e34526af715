/**
 * The one definition of each metric: the SQL that decides what counts as MRR now (churn risk
 * reads subscriptions through it), the sentences the report carries as its `definitions`, and the
 * targets as data. The tables the report reads are kept by triggers that state the same rules in
 * SQL (customer_mrr_months: migration 0017; customer_current and invoice_revenue_months: 0022);
 * test/worker/analytics-fixture.test.ts checks those tables against these definitions.
 */
import { sql, type SQL } from "drizzle-orm";

/** Statuses in which a subscription's MRR counts (Stripe's status; suspension is ours, below). */
export const MRR_STATUSES = ["active", "past_due"] as const;

/** Default gross margin for LTV when the caller names none (Cloudflare + Stripe fees ≈ 20 %). */
export const DEFAULT_GROSS_MARGIN = 0.8;

/** The longest range a report covers, in months (10 years). */
export const MAX_RANGE_MONTHS = 120;

/**
 * A row's MRR in cents given its status and its stored `mrr`: the stored amount is already the
 * price after discounts, tax excluded, normalised to a month and rounded half up per
 * subscription (stripe-sync/mirror.ts monthlyAmount), whatever the status; this decides whether it counts.
 */
export function countedMrr(status: SQL, mrr: SQL): SQL<number> {
  return sql<number>`(case when ${status} in ('active', 'past_due') then ${mrr} else 0 end)`;
}

/**
 * Suspensions (dunning day 21) as intervals per subscription: from the step's time until the case
 * closed (paid or ended), open while the case is still `suspended`. A suspended subscription
 * counts no MRR however Stripe's status reads.
 */
export const SUSPENSIONS = sql`select d.subscription_id as subscription_id, st.at as from_at,
    case when d.status = 'suspended' then null else d.closed_at end as to_at
  from dunning_steps st join dunning_cases d on d.id = st.case_id
  where st.step = 'suspended' and st.outcome = 'done'`;

/** Whether subscription `sub` is suspended now (the open-ended case of SUSPENSIONS). */
export function suspendedNow(sub: SQL): SQL<number> {
  return sql<number>`exists (select 1 from dunning_cases d where d.subscription_id = ${sub} and d.status = 'suspended')`;
}

export const DEFINITIONS: Record<string, string> = {
  mrr: "Monthly recurring revenue of a subscription: its recurring price times quantity after discounts (percent or amount off), tax excluded, normalised to a month (annual ÷ 12, two-year ÷ 24, three-year ÷ 36), in integer cents rounded half up per subscription; reports sum the rounded values. Counts while the subscription is active or past due; trials, paused, canceled, unpaid and incomplete subscriptions and suspended ones (dunning day 21) count none. One-off and proration invoices, tax and refunds do not change MRR. A paused collection (pause_collection) keeps its MRR.",
  month_snapshot: "A customer's MRR in a month is the sum of their subscriptions' MRR at the end of the month (UTC), from the subscription history and dunning suspensions.",
  new_mrr: "MRR of customers going from zero to positive for the first time (first paid month).",
  expansion_mrr: "Increase of a paying customer's MRR (upgrade, more seats, a discount that ends).",
  contraction_mrr: "Decrease of a paying customer's MRR that stays above zero (downgrade, a discount that starts); negative.",
  churned_mrr: "MRR of customers going to zero (a cancellation takes effect, suspension, trial-less lapse); negative.",
  reactivation_mrr: "MRR of customers back from zero after having paid before.",
  identity: "For every period, opening_mrr + new_mrr + expansion_mrr + contraction_mrr + churned_mrr + reactivation_mrr = closing_mrr, exactly.",
  arr: "12 × MRR.",
  customers: "Customers with MRR > 0 at the period end. An organization is one customer, whatever its seats.",
  seats:
    "Now: organizations whose subscription counts in MRR, the seats they bought (the subscription's quantity) and the seats their members hold. A seat's MRR is the per-seat term price ÷ the term's months (12, 24 or 36), within the organization's MRR.",
  arpu: "Closing MRR ÷ paying customers, rounded half up to the cent.",
  logo_churn_rate: "Customers churned in the period ÷ paying customers at its start.",
  gross_revenue_churn_rate: "(churned + contraction MRR) ÷ opening MRR, as a positive rate.",
  net_revenue_churn_rate: "(churned + contraction + expansion + reactivation MRR) ÷ opening MRR, negated: negative when expansion outweighs churn.",
  net_revenue_retention: "(opening + expansion + contraction + churned MRR) ÷ opening MRR (new and reactivated customers excluded).",
  quick_ratio: "(new + expansion + reactivation) ÷ |contraction + churned|; null without losses.",
  trial_conversion: "By trial-start cohort: of the trials started in the period, those whose subscription has since been active or past due (paid).",
  revenue: "Paid in the period: invoice totals after discounts, tax excluded, of invoices paid then (by paid date), proration and one-off invoices included. Refunds are not deducted.",
  refunded:
    "Given back in the period: the amounts of succeeded refunds made then (Stripe's time of the refund), in the report's currency, tax included as the refund returned it; through the API (a credit note with a refund) or in the Stripe dashboard alike. Not deducted from revenue, which counts invoices as paid; a refund that ends access also shows as churned MRR when the subscription is cancelled.",
  disputes:
    "disputes_opened: disputes Stripe opened in the period (its creation time), in the report's currency; disputes_lost: disputes closed as lost in the period (when the worker saw them close); dispute_fees: Stripe's fees of the disputes opened in the period, in cents.",
  dispute_rate:
    "Disputes opened in the period ÷ charges in the period (paid invoices that took money: amount paid > 0, by paid date), as a decimal fraction to 4 places (0.005 = 0.5 %); null without charges. Card networks start monitoring a merchant at about 0.0075; the alert fires past the policy's threshold (default 0.005).",
  early_fraud_warnings: "Radar early fraud warnings issuers raised in the period (Stripe's creation time) on charges in the report's currency, actionable or not.",
  ltv: "ARPU × gross margin ÷ monthly gross revenue churn rate (margin configurable, default 0.8); null in a period without churn.",
  cac: "Marketing spend entered for the month (PUT /v1/analytics/spend/{month}) ÷ new customers; quarters and years sum both.",
  cohorts:
    "Customers grouped by their first paid month; customer retention = share still paying at each later month end, revenue retention = their MRR then ÷ their MRR at the end of the first month.",
  dunning_recovery_rate: "Dunning cases recovered (invoice paid) ÷ all dunning cases, open ones included.",
  forecast:
    "Next 12 months of MRR from the trailing 3 months: new and reactivation MRR as averages, expansion, contraction and churn as rates of opening MRR; the band uses each trailing month's worst and best net rate.",
  currency: "Amounts are integer minor units of the report's currency; subscriptions and invoices in other currencies are left out.",
};

/** The break-even targets, as data (the seed's). */
export const TARGETS = [
  { key: "paying_customers", label: "Paying customers", direction: "at_least", target: 50, unit: "customers" },
  { key: "mrr", label: "Monthly recurring revenue", direction: "at_least", target: 200_000, unit: "cents" },
  { key: "first_year_revenue", label: "Revenue in the first year", direction: "at_least", target: 2_400_000, unit: "cents" },
  { key: "monthly_churn", label: "Monthly logo churn", direction: "at_most", target: 0.05, unit: "rate" },
  { key: "trial_conversion", label: "Trial conversion", direction: "at_least", target: 0.15, unit: "rate" },
] as const;
