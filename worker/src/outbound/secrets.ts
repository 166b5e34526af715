/**
 * Endpoint signing secrets: made here (`whsec_` and 32 random bytes in base64, as the Standard
 * Webhooks spec has them), kept encrypted at rest with AES-GCM under a key derived from the
 * WEBHOOK_SECRETS_KEY Worker secret (the worker signs with them, so they cannot be kept as a hash
 * like API keys), and turned into the HMAC key the signature uses.
 */
import { DomainError } from "../errors";

const PREFIX = "whsec_";
const b64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export function newSecret(): string {
  return PREFIX + b64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The key bytes of a secret: the base64 after `whsec_`. */
export function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  return unb64(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret);
}

const keys = new Map<string, Promise<CryptoKey>>();
function aesKey(material: string): Promise<CryptoKey> {
  let k = keys.get(material);
  if (!k) {
    k = crypto.subtle.digest("SHA-256", new TextEncoder().encode(material)).then((raw) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    keys.set(material, k);
  }
  return k;
}

/** `v1.<iv>.<ciphertext>`, both base64: what the endpoints table keeps. */
export async function sealSecret(secret: string, material: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await aesKey(material), new TextEncoder().encode(secret)));
  return `v1.${b64(iv)}.${b64(ct)}`;
}

export async function openSecret(sealed: string, material: string): Promise<string> {
  const [v, iv, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !ct) throw new Error("An endpoint's stored secret is not in a known format.");
  try {
    return new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(iv) }, await aesKey(material), unb64(ct)));
  } catch {
    // The key changed without re-encrypting: say which setting, never the secret.
    throw new DomainError("config_invalid", "An endpoint's signing secret cannot be decrypted with WEBHOOK_SECRETS_KEY: was the key changed?", {
      errors: [{ field: "WEBHOOK_SECRETS_KEY", message: "does not decrypt the stored endpoint secrets" }],
    });
  }
}

/**
 * The HMAC key of a stored (sealed) secret, decrypted and imported once per isolate: every
 * attempt signs, and neither the AES-GCM decryption nor the import needs doing again. Keyed by
 * the sealed text, so no plaintext secret is ever a map key (a fresh IV makes each sealing unique).
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

export function signingKey(sealed: string, material: string): Promise<CryptoKey> {
  let key = hmacKeys.get(sealed);
  if (!key) {
    key = openSecret(sealed, material).then((secret) => crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
    // A failure (a changed WEBHOOK_SECRETS_KEY) is not kept: the next attempt tries again.
    key.catch(() => hmacKeys.delete(sealed));
    if (hmacKeys.size > 1000) hmacKeys.clear();
    hmacKeys.set(sealed, key);
  }
  return key;
}

/**
 * The `webhook-signature` value for one key: `v1,` and the base64 HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<body>` under the secret's bytes (Standard Webhooks).
 * WebCrypto rather than the `standardwebhooks` package: the worker signs with the runtime's own
 * HMAC (as its other signatures do) and the e2e test verifies with that package, an
 * implementation the worker shares no code with.
 */
export async function signature(key: CryptoKey, id: string, timestampSeconds: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`));
  return `v1,${b64(new Uint8Array(mac))}`;
}
