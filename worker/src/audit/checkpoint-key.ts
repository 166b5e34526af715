/**
 * The key of the audit chain's checkpoints: HMAC-SHA256 under AUDIT_CHECKPOINT_SECRET. The chain
 * itself is plain SHA-256, which anyone who can write D1 can recompute; a MAC over the head
 * `{seq, hash, at}` is what such a writer cannot make without the secret, which lives only in the
 * Worker's secrets. It is a key of its own (not the webhook or entitlement keys) so that leaking
 * or rotating one says nothing about the others.
 */
import { canonicalJson, fromHex, toHex, utf8 } from "../crypto";

export interface Checkpoint {
  seq: number;
  hash: string;
  /** Unix ms when it was made. */
  at: number;
}

export interface CheckpointKey {
  /** Hex HMAC-SHA256 of the checkpoint under the first (current) secret. */
  sign(checkpoint: Checkpoint): Promise<string>;
  /** Whether `mac` is the checkpoint's MAC under any of the secrets (WebCrypto compares in constant time). */
  verify(checkpoint: Checkpoint, mac: string): Promise<boolean>;
}

/** The signed bytes. The purpose label keeps a checkpoint MAC from meaning anything else. */
function message(c: Checkpoint): Uint8Array<ArrayBuffer> {
  return utf8(canonicalJson({ purpose: "audit-checkpoint/v1", seq: c.seq, hash: c.hash, at: c.at }));
}

/** @param secrets the first signs; all verify (the old one stays listed while rotating). */
export function checkpointKey(secrets: readonly [string, ...string[]]): CheckpointKey {
  let keys: Promise<CryptoKey[]> | undefined;
  const load = () => (keys ??= Promise.all(secrets.map((s) => crypto.subtle.importKey("raw", utf8(s), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]))));
  return {
    async sign(checkpoint) {
      const [current] = await load();
      return toHex(await crypto.subtle.sign("HMAC", current!, message(checkpoint)));
    },
    async verify(checkpoint, mac) {
      const signature = fromHex(mac);
      if (!signature) return false;
      for (const key of await load()) if (await crypto.subtle.verify("HMAC", key, signature, message(checkpoint))) return true;
      return false;
    },
  };
}
