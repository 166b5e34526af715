import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * Stripe-looking ids (`cus_` + 24 base62 chars). A monotonically increasing prefix keeps ids
 * unique and sortable within one emulator run; the random tail keeps them from colliding with
 * ids from an earlier run restored from a snapshot.
 */
let counter = 0;
export function newId(prefix: string): string {
  counter += 1;
  let n = counter;
  let head = "";
  for (let i = 0; i < 8; i++) {
    head = ALPHABET[n % 62] + head;
    n = Math.floor(n / 62);
  }
  const bytes = randomBytes(16);
  let tail = "";
  for (const b of bytes) tail += ALPHABET[b % 62];
  return `${prefix}_${head}${tail}`;
}

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 62];
  return out;
}
