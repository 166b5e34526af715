/**
 * Strict base64url (RFC 4648 §5, no padding) decoder: rejects any character outside the
 * alphabet, impossible lengths and non-canonical trailing bits, so one byte string has exactly
 * one encoding (no token malleability).
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LOOKUP = /* @__PURE__ */ (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Returns the bytes, or `undefined` when `input` is not canonical base64url. */
export function decodeBase64url(input: string, start = 0, end = input.length): Uint8Array<ArrayBuffer> | undefined {
  const len = end - start;
  const rem = len & 3;
  if (rem === 1) return undefined;
  const out = new Uint8Array(((len >> 2) * 3) + (rem === 0 ? 0 : rem - 1));
  let o = 0;
  let i = start;
  const full = end - rem;
  for (; i < full; i += 4) {
    const a = sextet(input, i), b = sextet(input, i + 1), c = sextet(input, i + 2), d = sextet(input, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rem === 2) {
    const a = sextet(input, i), b = sextet(input, i + 1);
    if ((a | b) < 0 || (b & 0x0f) !== 0) return undefined;
    out[o] = (a << 2) | (b >> 4);
  } else if (rem === 3) {
    const a = sextet(input, i), b = sextet(input, i + 1), c = sextet(input, i + 2);
    if ((a | b | c) < 0 || (c & 0x03) !== 0) return undefined;
    const n = (a << 10) | (b << 4) | (c >> 2);
    out[o++] = n >> 8;
    out[o] = n & 0xff;
  }
  return out;
}

function sextet(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? (LOOKUP[c] as number) : -1;
}
