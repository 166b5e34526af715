/**
 * The one wire format of an instant, for the JSON API, the agent tools and MCP alike: RFC 3339
 * in UTC with milliseconds, `2026-12-07T02:37:05.000Z`. Always three fraction digits, so two
 * instants compare as text the way they compare in time, and an instant the worker stored in
 * milliseconds (D1's unit) comes back exactly when a client hands it in again as a cursor
 * (`before` on GET /v1/events); Stripe's whole seconds show `.000`.
 *
 * Inputs that are instants take any RFC 3339 time with an offset (`Z` or `+02:00`, fraction
 * optional). What stays numeric, on purpose: JWT claims (NumericDate seconds, RFC 7519), CSV
 * columns, durations (whose names say their unit: `_ms`, `_s`, `_days`), and the audit log's
 * stored before/after summaries (hash-chained as written).
 */
import { z } from "zod";

/** The wire form of an instant given in Unix milliseconds. Every instant on the wire goes through here. */
export function instant(ms: number): string {
  return new Date(ms).toISOString();
}

export const instantOrNull = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : instant(ms));

/** For Stripe's and JWT's Unix seconds. */
export const instantOfSeconds = (s: number | null | undefined): string | null => (s === null || s === undefined ? null : instant(s * 1000));

/** An instant as the worker writes it (output contract). */
export const Instant = z.iso.datetime({ precision: 3 }).describe("RFC 3339 instant in UTC with milliseconds, e.g. 2026-12-07T02:37:05.000Z");

/** An instant as a client may send it (input contract): RFC 3339 with `Z` or an offset. */
export const InstantInput = z.iso.datetime({ offset: true }).describe("RFC 3339 instant, e.g. 2026-12-07T02:37:05Z or 2026-12-06T21:37:05-05:00");

/** Unix milliseconds of a validated InstantInput. */
export const msOf = (value: string): number => Date.parse(value);

/** Whole Unix seconds of a validated InstantInput, for Stripe (which counts in seconds); a fraction is dropped. */
export const secondsOf = (value: string): number => Math.floor(Date.parse(value) / 1000);
