/**
 * The thresholds the compliance report holds the running system to, as data: a deployment or
 * an auditor who agrees another number changes it here (or per call), not in the checks.
 */
export interface CompliancePolicy {
  /** An API key older than this must have been rotated (PCI DSS 8.3.9 / 8.6.3 use 90 days). */
  apiKeyMaxAgeDays: number;
  /**
   * The current entitlements signing key's cryptoperiod. NIST SP 800-57 Part 1 suggests one to
   * three years for a private signature key; a year keeps a leaked key's reach short.
   */
  signingKeyMaxAgeDays: number;
  /** The newest backup must be younger than this: a daily backup with a couple of hours' slack. */
  backupMaxAgeHours: number;
  /** Stripe events parked after their retries (the mirror may be behind Stripe until replayed). */
  parkedEventsMax: number;
  /** Dunning cases overdue (monitoring/backlogs.ts: two missed ticks) allowed. */
  dunningOverdueMax: number;
  /** Rows of the card-number scan per D1 query, and at most per report. */
  cardScanBatch: number;
  cardScanMaxRows: number;
}

export const defaultPolicy: CompliancePolicy = {
  apiKeyMaxAgeDays: 90,
  signingKeyMaxAgeDays: 365,
  backupMaxAgeHours: 26,
  parkedEventsMax: 0,
  dunningOverdueMax: 0,
  cardScanBatch: 5000,
  cardScanMaxRows: 2_000_000,
};
