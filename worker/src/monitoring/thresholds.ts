/**
 * The lines between "ok" and "tell someone", as data: /health and the alert checks read them
 * from here, and tests pass their own.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface MonitoringThresholds {
  /** /health is degraded when the oldest unprocessed webhook event has waited longer (s). */
  webhookLagS: number;
  /**
   * A spike of failed payments: at least `minFailures` in the last hour and more than `factor`
   * times the hourly average of the 24 hours before it.
   */
  failedPaymentSpike: { factor: number; minFailures: number };
  /**
   * The month's dispute rate (disputes opened ÷ charges, per currency) above which an alert goes
   * out, once per month and currency: below the card networks' monitoring line (about 0.0075),
   * so there is time to act. A decimal fraction: 0.005 = 0.5 %.
   */
  disputeRate: { max: number };
  /** How long one alert covers its condition: another alert of it only in the next window (or at a higher level). */
  windowsMs: {
    events_parked: number;
    failed_payments_spike: number;
    audit_chain_broken: number;
    cron_overdue: number;
    webhook_deliveries_parked: number;
    webhook_endpoint_disabled: number;
    dispute_rate_high: number;
  };
  /** How often the minute cron walks the whole audit chain (the other minutes it does not). */
  auditVerifyEveryMs: number;
  /** The Stripe check's time limit, and how long its answer is reused (so /health cannot be used to hammer Stripe). */
  stripeTimeoutMs: number;
  stripeCacheMs: number;
}

export const MONITORING_THRESHOLDS: MonitoringThresholds = {
  // The sweep retries a failed event after 1 min at the earliest; 10 min means it is not keeping up.
  webhookLagS: 10 * 60,
  failedPaymentSpike: { factor: 3, minFailures: 5 },
  disputeRate: { max: 0.005 },
  windowsMs: {
    events_parked: 24 * HOUR,
    failed_payments_spike: HOUR,
    audit_chain_broken: 24 * HOUR,
    cron_overdue: HOUR,
    webhook_deliveries_parked: 24 * HOUR,
    webhook_endpoint_disabled: 24 * HOUR,
    dispute_rate_high: 24 * HOUR,
  },
  auditVerifyEveryMs: HOUR,
  stripeTimeoutMs: 3_000,
  stripeCacheMs: 15_000,
};
