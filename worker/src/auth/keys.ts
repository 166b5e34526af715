/**
 * API key material. A key is `fja_` + 32 random bytes in base64url (256 bits); only its
 * SHA-256 is stored, with a short prefix so people can tell keys apart in listings.
 */
import { randomBase64url, sha256Hex } from "../crypto";

export const KEY_PREFIX = "fja_";
const PREFIX_LENGTH = 12;
const KEY_PATTERN = /^fja_[A-Za-z0-9_-]{43}$/;

export interface KeyMaterial {
  key: string;
  prefix: string;
  hash: string;
}

export async function generateKey(): Promise<KeyMaterial> {
  const key = KEY_PREFIX + randomBase64url(32);
  return { key, prefix: key.slice(0, PREFIX_LENGTH), hash: await hashKey(key) };
}

export function hashKey(key: string): Promise<string> {
  return sha256Hex(key);
}

export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}
