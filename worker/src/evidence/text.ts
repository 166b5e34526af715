/**
 * The evidence's text fields as a card network's reviewer reads them: plain sentences and one
 * line per day, instants in RFC 3339 (UTC), within Stripe's limits (20,000 characters for the
 * access activity log, 150,000 for all fields together).
 */
import type { AccessActivity } from "../entitlements";
import { instant } from "../instant";

/** Stripe's limit on `access_activity_log`. */
export const ACCESS_LOG_LIMIT = 20_000;
/** What the worker allows itself for `uncategorized_text`, well within the 150,000 of all fields. */
export const EVIDENCE_TEXT_LIMIT = 20_000;

export interface PriorPayment {
  invoiceId: string;
  amount: number;
  currency: string;
  paidAt: number;
}

export const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;

/**
 * The access activity log: what it counts, the period's total, then one line per day with
 * access. A long period's days beyond the limit are summed in one closing line.
 */
export function accessLogText(
  userId: string | null,
  access: AccessActivity,
  days: readonly { day: number; allowed: number; firstAt: number; lastAt: number }[],
  period: { start: number; end: number },
): string {
  const head = [
    `Access log of the billing service for ${userId ? `user ${userId}` : "this customer (no user id is known)"}: each time the customer's application checked online whether the subscription allows a feature and it was allowed, and each time it was issued an access token granting the plan's features. Times in UTC.`,
    `Service period: ${instant(period.start)} to ${instant(period.end)}.`,
    access.allowed > 0
      ? `Allowed checks and token issues in the period: ${access.allowed}, first ${instant(access.firstAt!)}, last ${instant(access.lastAt!)}.`
      : "Allowed checks and token issues in the period: 0.",
  ].join("\n");
  let text = head;
  for (const [i, d] of days.entries()) {
    const line = `\n${instant(d.day).slice(0, 10)}: ${d.allowed} allowed, first ${instant(d.firstAt)}, last ${instant(d.lastAt)}`;
    const rest = days.slice(i);
    const closing = `\n… and ${rest.reduce((n, r) => n + r.allowed, 0)} more on ${rest.length} more days, to ${instant(rest.at(-1)!.lastAt)}`;
    if (text.length + line.length + closing.length > ACCESS_LOG_LIMIT) return text + closing;
    text += line;
  }
  return text;
}

export function priorPaymentsText(payments: readonly PriorPayment[]): string {
  if (payments.length === 0) return "The customer made no earlier payment.";
  const lines = payments.map((p) => `- invoice ${p.invoiceId}: ${money(p.amount, p.currency)} paid ${instant(p.paidAt)}`);
  return [`Earlier payments by the same customer, not disputed (${payments.length}):`, ...lines].join("\n");
}
