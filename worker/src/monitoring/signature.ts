/**
 * The alert webhook's signature, in Stripe's shape so receivers can reuse what they know:
 * `X-Alert-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * timestamp is inside the MAC, so a receiver that rejects old timestamps is safe from replays.
 */
import { hmacSha256Hex } from "../crypto";

export const ALERT_SIGNATURE_HEADER = "x-alert-signature";

/** The header value for `body` sent at `atMs`. */
export async function signAlert(secret: string, body: string, atMs: number): Promise<string> {
  const t = Math.floor(atMs / 1000);
  return `t=${t},v1=${await hmacSha256Hex(secret, `${t}.${body}`)}`;
}

/**
 * What a receiver does (and the tests do): recompute the MAC over the exact bytes received, compare
 * in constant time, and refuse a timestamp more than `toleranceS` away from its own clock.
 */
export async function verifyAlertSignature(secret: string, body: string, header: string | null, nowMs: number, toleranceS = 300): Promise<boolean> {
  if (!header) return false;
  const parts = new Map(header.split(",").map((p) => p.trim().split("=", 2) as [string, string]));
  const t = Number(parts.get("t"));
  const v1 = parts.get("v1");
  if (!Number.isInteger(t) || !v1 || Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  const expected = await hmacSha256Hex(secret, `${t}.${body}`);
  if (expected.length !== v1.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ v1.charCodeAt(i);
  return diff === 0;
}
