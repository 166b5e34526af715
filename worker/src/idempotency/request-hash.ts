/**
 * What makes two requests "the same request" for an Idempotency-Key: method, path and body.
 * A JSON body is compared by its meaning, not its bytes, so a client that re-serialises the same
 * object with its keys in another order or other spacing is still retrying, not reusing the key.
 */
export async function requestHash(method: string, path: string, body: string): Promise<string> {
  const canonical = `${method.toUpperCase()} ${path}\n${canonicalBody(body)}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function canonicalBody(body: string): string {
  if (body.trim() === "") return "";
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    // Not JSON: the route will refuse it; its bytes still tell it apart from other bodies.
    return `raw:${body}`;
  }
  return JSON.stringify(sorted(value));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
