/** Calendar months in UTC: parsing `YYYY-MM`, boundaries in ms, and period labels. */
import { invalidInput } from "../errors";
import { MAX_RANGE_MONTHS } from "./definitions";
import type { Month, Period } from "./types";

/** Months since year 0 (an index that is easy to add to). */
export type MonthIndex = number;

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parseMonth(field: string, value: string): MonthIndex {
  const m = MONTH.exec(value);
  if (!m) throw invalidInput(field, "must be a month as YYYY-MM", `${field} must be a calendar month written YYYY-MM (for example 2025-01), not ${JSON.stringify(value)}.`);
  const year = Number(m[1]);
  if (year < 1970) throw invalidInput(field, "must be 1970 or later", `${field} must be a month in 1970 or later.`);
  return year * 12 + (Number(m[2]) - 1);
}

/** A checked range: from ≤ to, at most `max` months (MAX_RANGE_MONTHS by default); by default the 12 months up to `now`'s. */
export function parseRange(from: string | undefined, to: string | undefined, now: number, max: number = MAX_RANGE_MONTHS): { from: MonthIndex; to: MonthIndex; label: { from: Month; to: Month } } {
  const t = to === undefined ? monthOf(now) : parseMonth("to", to);
  const f = from === undefined ? t - 11 : parseMonth("from", from);
  if (f > t) throw invalidInput("from", "must not be after to", `from (${from}) is after to (${to}); swap them.`);
  if (t - f + 1 > max) throw invalidInput("to", `range must be at most ${max} months`, `The range ${from} … ${to} covers ${t - f + 1} months; a report covers at most ${max} (${max / 12} years).`);
  return { from: f, to: t, label: { from: monthLabel(f), to: monthLabel(t) } };
}

export const monthStart = (i: MonthIndex): number => Date.UTC(Math.floor(i / 12), i % 12, 1);
export const monthOf = (ms: number): MonthIndex => {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};
export const monthLabel = (i: MonthIndex): Month => `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`;

export function periodLabel(i: MonthIndex, period: Period): string {
  const year = Math.floor(i / 12);
  if (period === "annual") return String(year);
  if (period === "quarterly") return `${year}-Q${Math.floor((i % 12) / 3) + 1}`;
  return monthLabel(i);
}
