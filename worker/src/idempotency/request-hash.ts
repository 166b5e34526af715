import { sha256Hex } from "../crypto";

/**
 * What makes two requests "the same request" for an Idempotency-Key: method, path and the body's
 * bytes. Bytes, not the parsed JSON: the agent tools read money from the number's decimal text,
 * which parsing would round (19.9999999999999999 and 20 are one float), and a client retrying
 * sends what it sent.
 */
export function requestHash(method: string, path: string, body: string): Promise<string> {
  return sha256Hex(`${method.toUpperCase()} ${path}\n${body}`);
}
