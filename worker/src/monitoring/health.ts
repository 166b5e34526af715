/**
 * What /health reports, gathered at once (the D1 reads run side by side, Stripe's answer may be
 * a few seconds old). It is public, so it holds states, counts, ages and times only: no ids, no
 * error text (a D1 or Stripe message can name tables, accounts or customers), no amounts.
 */
import { checkDatabase } from "../db/health";
import { dunningWarnings } from "../dunning";
import type { Services } from "../services";
import { dunningBacklog, emailBacklog, parkedEvents, webhookLag, type DunningBacklog, type EmailBacklog } from "./backlogs";
import { cronStatuses } from "./crons";
import { checkStripe, type StripeCheck } from "./stripe";
import { MONITORING_THRESHOLDS, type MonitoringThresholds } from "./thresholds";
import { instantOrNull } from "../instant";

export interface HealthWarning {
  code: string;
  detail: string;
  cases?: number;
}

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  /** The checks that made it degraded (`stripe`, `webhook_lag`, `events_parked`, `cron:<name>`). */
  failing: string[];
  d1: { ok: boolean; latency_ms: number; error?: string };
  stripe?: StripeCheck;
  webhooks?: { pending: number; oldest_pending_age_s: number | null; parked: number; lag_ok: boolean };
  dunning?: DunningBacklog;
  email?: EmailBacklog;
  crons?: { cron: string; last_started_at: string | null; last_finished_at: string | null; last_ok: boolean | null; overdue: boolean }[];
  warnings: HealthWarning[];
}

export async function healthReport(s: Services, t: MonitoringThresholds = MONITORING_THRESHOLDS): Promise<HealthReport> {
  const d1 = await checkDatabase(s);
  if (!d1.ok) return { status: "down", failing: ["d1"], d1, warnings: [] };

  const [stripe, lag, parked, dunning, email, crons, dunningWarns] = await Promise.all([
    checkStripe(s, t),
    webhookLag(s),
    parkedEvents(s),
    dunningBacklog(s),
    emailBacklog(s),
    cronStatuses(s),
    // A misconfiguration is a warning, not an outage: the worker still serves.
    dunningWarnings(s).catch((): HealthWarning[] => [{ code: "dunning_unchecked", detail: "The dunning policy could not be read: check the DUNNING_* settings." }]),
  ]);
  const lagOk = (lag.oldest_pending_age_s ?? 0) <= t.webhookLagS;
  const failing = [
    ...(stripe.ok ? [] : ["stripe"]),
    ...(lagOk ? [] : ["webhook_lag"]),
    ...(parked.parked > 0 ? ["events_parked"] : []),
    ...crons.filter((c) => c.overdue).map((c) => `cron:${c.cron}`),
  ];
  const warnings: HealthWarning[] = [...dunningWarns];
  if (dunning.overdue > 0)
    warnings.push({ code: "dunning_overdue", detail: `${dunning.overdue} dunning case(s) are past their next stage by over 30 minutes: is the */15 cron running?`, cases: dunning.overdue });
  if (email.overdue > 0) warnings.push({ code: "email_overdue", detail: `${email.overdue} email(s) have been due for over 10 minutes: check the email transport (GET /v1/emails).` });
  if (email.failed > 0) warnings.push({ code: "email_failed", detail: `${email.failed} email(s) were given up on (GET /v1/emails?status=failed).` });
  for (const c of crons) if (c.last_ok === false) warnings.push({ code: "cron_failed", detail: `The last ${c.cron} run failed; the worker's logs have the reason.` });

  return {
    status: failing.length ? "degraded" : "ok",
    failing,
    d1,
    stripe,
    webhooks: { ...lag, parked: parked.parked, lag_ok: lagOk },
    dunning,
    email,
    crons: crons.map((c) => ({ cron: c.cron, last_started_at: instantOrNull(c.last_started_at), last_finished_at: instantOrNull(c.last_finished_at), last_ok: c.last_ok, overdue: c.overdue })),
    warnings,
  };
}
