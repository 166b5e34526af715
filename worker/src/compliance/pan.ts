/**
 * Finding primary account numbers (card numbers) in stored text, as a PCI data-discovery scan
 * does: a run of 13–19 digits, on its own (not inside a longer number, a word, an id such
 * as `cus_123…` or a hex hash), written plain or in the 4-digit groups people type, that passes
 * the Luhn check and starts like an issued card (Visa, Mastercard, Amex, Discover, JCB, Diners,
 * UnionPay, Maestro: major industry identifier 2–6).
 *
 * Why the issuer prefix: the stored JSON holds epoch-millisecond times (13 digits, starting
 * with 1 until the year 2286), and one in ten of those passes Luhn, so Luhn alone would flag
 * ordinary rows; no card number starts with 1 (UATP airline cards aside, which Stripe does not take).
 */

/** Plain runs, and the usual grouped forms: 4-4-4-4(-1..3) and Amex/Diners 4-6-4/5. */
const PLAIN = /(?<![0-9A-Za-z_])\d{13,19}(?![0-9A-Za-z_])/g;
const GROUPED = /(?<![0-9A-Za-z_])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![0-9A-Za-z_])/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The card brand a number's prefix and length belong to, or null when none issues it. */
export function cardBrand(digits: string): string | null {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === "4" && (n === 13 || n === 16 || n === 19)) return "visa";
  if (n === 16 && ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))) return "mastercard";
  if (n === 15 && (p2 === 34 || p2 === 37)) return "amex";
  if (n >= 16 && (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649))) return "discover";
  if (n >= 16 && p4 >= 3528 && p4 <= 3589) return "jcb";
  if (n >= 14 && ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39)) return "diners";
  if (n >= 16 && p2 === 62) return "unionpay";
  if (n >= 13 && (p2 === 50 || (p2 >= 56 && p2 <= 69))) return "maestro";
  return null;
}

export interface PanMatch {
  /** First six and last four, as PCI DSS 3.4.1 allows a PAN to be shown; never the whole number. */
  masked: string;
  brand: string;
  /** Where in the text it starts (characters). */
  offset: number;
}

export function maskPan(digits: string): string {
  return `${digits.slice(0, 6)}${"*".repeat(digits.length - 10)}${digits.slice(-4)}`;
}

export function findPans(text: string): PanMatch[] {
  const found: PanMatch[] = [];
  const seen = new Set<number>();
  for (const re of [PLAIN, GROUPED]) {
    for (const m of text.matchAll(re)) {
      const digits = m[0].replace(/[ -]/g, "");
      if (digits.length < 13 || digits.length > 19 || seen.has(m.index)) continue;
      const brand = cardBrand(digits);
      if (!brand || !luhnValid(digits)) continue;
      seen.add(m.index);
      found.push({ masked: maskPan(digits), brand, offset: m.index });
    }
  }
  return found.sort((a, b) => a.offset - b.offset);
}

const D = "[0-9]";
/**
 * SQLite GLOB patterns that every text `findPans` would flag matches, so a table is filtered in
 * SQLite and only candidate rows cross into the worker: a digit 2–6 starting the text or after
 * a non-digit, then 7 more digits; or a 4-digit group, a separator and another 4 digits. D1
 * refuses patterns over 50 bytes, hence 8 digits rather than 13: the worker checks the rest.
 */
export const PAN_GLOBS: readonly string[] = [`[2-6]${D.repeat(7)}*`, `*[^0-9][2-6]${D.repeat(7)}*`, `*[2-6]${D.repeat(3)}[ -]${D.repeat(4)}*`];
