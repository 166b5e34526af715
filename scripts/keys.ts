/**
 * npm run keys:generate                      a new key set with one `current` key
 * npm run keys:generate -- --status next     one new key to add to an existing set (rotation)
 * npm run keys:generate -- --rotate FILE     the set in FILE with its next/current/retired moved one step
 *
 * Output is JSON for `wrangler secret put ENTITLEMENTS_SIGNING_KEYS` (or .dev.vars). The
 * private keys never leave this machine except through that command.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { exportJWK, generateKeyPair } from "jose";

export type KeyStatus = "next" | "current" | "retired";
export interface SigningJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  d: string;
  kid: string;
  status: KeyStatus;
}

export async function generateSigningKey(status: KeyStatus, now = new Date()): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(privateKey);
  const suffix = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex");
  return { kty: "OKP", crv: "Ed25519", x: jwk.x!, d: jwk.d!, kid: `ent-${now.toISOString().slice(0, 10)}-${suffix}`, status };
}

/** One rotation step: next → current, current → retired; a set with no next gets one made. */
export async function rotate(set: { keys: SigningJwk[] }): Promise<{ keys: SigningJwk[] }> {
  if (!set.keys.some((k) => k.status === "next")) return { keys: [...set.keys, await generateSigningKey("next")] };
  return {
    keys: set.keys.map((k) => ({ ...k, status: k.status === "next" ? "current" : k.status === "current" ? "retired" : k.status })),
  };
}

async function main() {
  const { values } = parseArgs({ options: { status: { type: "string" }, rotate: { type: "string" } } });
  if (values.rotate) {
    const set = JSON.parse(await readFile(values.rotate, "utf8")) as { keys: SigningJwk[] };
    console.log(JSON.stringify(await rotate(set)));
    return;
  }
  if (values.status) {
    if (!["next", "current", "retired"].includes(values.status)) throw new Error("--status must be next, current or retired");
    console.log(JSON.stringify(await generateSigningKey(values.status as KeyStatus)));
    return;
  }
  console.log(JSON.stringify({ keys: [await generateSigningKey("current")] }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
