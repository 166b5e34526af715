/**
 * What the entitlement routes ask: a user's signed token, their state now, a decision on one
 * feature, and the public keys that verify tokens. All of them read the stored state and apply
 * the same effective-state rule, so a token and an online check agree.
 */
import type { Services } from "../services";
import { buildClaims, type EntitlementClaims } from "./claims";
import { can, type Decision } from "./decide";
import type { PublicJwk } from "./keys";
import { signClaims } from "./sign";
import { effectiveState, readEntitlement, type EntitlementState } from "./state";

type Deps = Pick<Services, "db" | "clock" | "signer">;

export async function issueToken(s: Deps, userId: string): Promise<{ token: string; expiresAt: number }> {
  const keys = await s.signer.keys();
  const claims = buildClaims(await readEntitlement(s.db, userId), s.signer.config, s.clock.now());
  return { token: await signClaims(claims, keys), expiresAt: claims.exp * 1000 };
}

/** The state as it stands now (a grace that ran out counts as suspended) and what it grants. */
export async function currentEntitlement(s: Deps, userId: string): Promise<{ state: EntitlementState; claims: EntitlementClaims }> {
  const now = s.clock.now();
  const state = effectiveState(await readEntitlement(s.db, userId), now);
  return { state, claims: buildClaims(state, s.signer.config, now) };
}

export async function checkFeature(s: Deps, userId: string, feature: string): Promise<Decision> {
  return can(buildClaims(await readEntitlement(s.db, userId), s.signer.config, s.clock.now()), feature);
}

export async function publicKeys(s: Pick<Services, "signer">): Promise<{ keys: PublicJwk[] }> {
  return (await s.signer.keys()).jwks;
}
