/**
 * Dollar amounts from agents, made exact. An agent writes `49.00`; JSON.parse makes that the
 * double 49, and `0.1 + 0.2` style values (0.30000000000000004) or 17 significant digits
 * (49.999999999999999, which parses to 50) are not amounts anyone meant. So cents come from
 * the number's decimal text as the agent wrote it, never from float arithmetic: at most two
 * decimals, no sign, no exponent, within a sane bound.
 */
import { invalidInput } from "../errors";

/** $1,000,000.00: far above any invoice of this product; a larger figure is a mistake. */
export const MAX_CENTS = 100_000_000;

const PLAIN_DECIMAL = /^(0|[1-9]\d{0,8})(?:\.(\d{1,2}))?$/;

/** Why this decimal text is not an amount of dollars, or null when it is one. */
export function dollarTextProblem(text: string): string | null {
  const t = text.trim();
  if (t.startsWith("-")) return "must not be negative";
  if (/[eE]/.test(t)) return "write the amount as a plain decimal like 49.00, not in exponent notation";
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return "must be a dollar amount like 49.00";
  if ((m[2]?.length ?? 0) > 2) return "has more than 2 decimals: dollars have cents, not fractions of a cent";
  if (!PLAIN_DECIMAL.test(t) || cents(t) > MAX_CENTS) return `must be at most ${MAX_CENTS / 100} dollars`;
  return null;
}

function cents(text: string): number {
  const [whole, frac = ""] = text.trim().split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
}

/**
 * The decimal text of an amount: a string as it is; a number by its shortest round-trip form
 * (what JSON.stringify would write), which keeps 0.30000000000000004 visible as such.
 */
export function dollarText(value: number | string): string {
  return typeof value === "string" ? value : String(value);
}

/** Integer cents of a dollar amount; `validation_failed` naming `field` when it is not one. */
export function dollarsToCents(value: number | string, field: string): number {
  const text = dollarText(value);
  const problem = dollarTextProblem(text);
  if (problem) throw invalidInput(field, problem, `${field} ${JSON.stringify(text)} ${problem}.`);
  return cents(text);
}

/** "$49.00" for cents in a two-decimal currency. */
export function formatDollars(amount: number, currency = "usd"): string {
  const sign = amount < 0 ? "-" : "";
  const abs = Math.abs(amount);
  const text = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  return currency.toLowerCase() === "usd" ? `${sign}$${text}` : `${sign}${text} ${currency.toUpperCase()}`;
}

/**
 * The source text of each number at the top level of a JSON object, by key (the last one wins,
 * as in JSON.parse). `text` must already be valid JSON (the caller parsed it); anything else
 * gives an empty map. Used to read `amount: 49.00` as "49.00" before JSON.parse rounds it.
 */
export function topLevelNumberTexts(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n\uFEFF".includes(text[i]!)) i++;
  };
  const str = (): string | null => {
    const start = i;
    if (text[i] !== '"') return null;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return null;
    }
  };
  /** Skips one value of any kind, nested ones included. */
  const skip = () => {
    let depth = 0;
    do {
      ws();
      const ch = text[i];
      if (ch === '"') str();
      else if (ch === "{" || ch === "[") depth++, i++;
      else if (ch === "}" || ch === "]") depth--, i++;
      else if (ch === "," || ch === ":") i++;
      else while (i < text.length && !',:{}[]" \t\r\n'.includes(text[i]!)) i++;
    } while (depth > 0 && i < text.length);
  };
  ws();
  if (text[i] !== "{") return out;
  i++;
  for (;;) {
    ws();
    if (text[i] === "}" || i >= text.length) return out;
    const key = str();
    if (key === null) return out;
    ws();
    if (text[i] !== ":") return out;
    i++;
    ws();
    if (/[-0-9]/.test(text[i] ?? "")) {
      const start = i;
      while (i < text.length && /[-+0-9.eE]/.test(text[i]!)) i++;
      out.set(key, text.slice(start, i));
    } else {
      out.delete(key);
      skip();
    }
    ws();
    if (text[i] === ",") i++;
  }
}
