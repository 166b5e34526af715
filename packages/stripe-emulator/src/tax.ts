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

/**
 * The first digit of the ZIP codes of each US state and territory (USPS national areas): a ZIP
 * code outside its state's area is an address Stripe Tax cannot place. Coarser than Stripe's own
 * check, which knows every ZIP code, but it refuses what Stripe's documentation names: a postal
 * code that does not match the state.
 */
const ZIP_AREAS: Record<string, string> = {
  CT: "0",
  MA: "0",
  ME: "0",
  NH: "0",
  NJ: "0",
  PR: "0",
  RI: "0",
  VT: "0",
  VI: "0",
  AE: "0",
  DE: "1",
  NY: "01",
  PA: "1",
  DC: "2",
  MD: "2",
  NC: "2",
  SC: "2",
  VA: "2",
  WV: "2",
  AL: "3",
  FL: "3",
  GA: "3",
  MS: "3",
  TN: "3",
  AA: "3",
  IN: "4",
  KY: "4",
  MI: "4",
  OH: "4",
  IA: "5",
  MN: "5",
  MT: "5",
  ND: "5",
  SD: "5",
  WI: "5",
  IL: "6",
  KS: "6",
  MO: "6",
  NE: "6",
  AR: "7",
  LA: "7",
  OK: "7",
  TX: "7",
  AZ: "8",
  CO: "8",
  ID: "8",
  NM: "8",
  NV: "8",
  UT: "8",
  WY: "8",
  AK: "9",
  CA: "9",
  HI: "9",
  OR: "9",
  WA: "9",
  GU: "9",
  AS: "9",
  MP: "9",
  PW: "9",
  FM: "9",
  MH: "9",
  AP: "9",
};

/** Whether Stripe Tax can place a customer's address (`tax[validate_location]=immediately`). */
export function taxLocationValid(address: Stripe.Address | null | undefined): boolean {
  if (!address?.country) return false;
  if (address.country.toUpperCase() !== "US") return true;
  const area = ZIP_AREAS[address.state?.toUpperCase() ?? ""];
  const zip = address.postal_code ?? "";
  return area !== undefined && /^\d{5}(-\d{4})?$/.test(zip) && area.includes(zip[0]!);
}
