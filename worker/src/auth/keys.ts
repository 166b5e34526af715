/**
 * API key material. A key is `fja_` + 32 random bytes in base64url (256 bits); only its
 * SHA-256 is stored, with a short prefix so people can tell keys apart in listings.
 */
import { sha256Hex } from "../audit/chain";

export const KEY_PREFIX = "fja_";
const PREFIX_LENGTH = 12;
const KEY_PATTERN = /^fja_[A-Za-z0-9_-]{43}$/;

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function randomId(prefix: string, bytes = 12): string {
  return `${prefix}_${base64url(crypto.getRandomValues(new Uint8Array(bytes)))}`;
}

export interface KeyMaterial {
  key: string;
  prefix: string;
  hash: string;
}

export async function generateKey(): Promise<KeyMaterial> {
  const key = KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
  return { key, prefix: key.slice(0, PREFIX_LENGTH), hash: await hashKey(key) };
}

export function hashKey(key: string): Promise<string> {
  return sha256Hex(key);
}

export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}
