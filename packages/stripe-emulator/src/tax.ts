import type Stripe from "stripe";

/**
 * Automatic tax, emulated: a rate table in basis points keyed by `COUNTRY-STATE` (e.g.
 * "US-CA": 725 = 7.25 %) with `COUNTRY` as fallback. Tax on an amount is
 * round-half-up(amount × bps / 10000), computed in integers so no float ever touches money.
 */
export interface TaxDecision {
  rateBps: number;
  jurisdiction: string;
  taxRateId: string;
}

export function taxRateFor(table: Record<string, number>, address: Stripe.Address | null | undefined): TaxDecision | null {
  if (!address?.country) return null;
  const country = address.country.toUpperCase();
  const state = address.state?.toUpperCase();
  const key = state && table[`${country}-${state}`] !== undefined ? `${country}-${state}` : country;
  const rate = table[key];
  if (rate === undefined) return null;
  return { rateBps: rate, jurisdiction: key, taxRateId: `txr_emulator_${key.replace(/[^A-Za-z0-9]/g, "_")}` };
}

/** round-half-up(amount × bps / 10000) for amount ≥ 0, mirrored for negatives. */
export function taxOn(amount: number, bps: number): number {
  const sign = amount < 0 ? -1 : 1;
  const a = Math.abs(amount);
  return sign * Math.floor((2 * a * bps + 10_000) / 20_000);
}
