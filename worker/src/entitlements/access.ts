/**
 * What the entitlement routes ask: a user's signed token, their state now, a decision on one
 * feature, and the public keys that verify tokens. All of them read the stored state and apply
 * the same effective-state rule, so a token and an online check agree.
 */
import { userNow } from "../test-clocks";
import type { Services } from "../services";
import { buildClaims, type EntitlementClaims } from "./claims";
import { can, type Decision } from "./decide";
import type { PublicJwk } from "./keys";
import { signClaims } from "./sign";
import { effectiveState, readEntitlement, type EntitlementState } from "./state";

type Deps = Pick<Services, "db" | "clock" | "signer" | "stripe" | "stripeMode" | "log">;

/** The stored state and the time the user lives on, read side by side. */
const stateAndNow = (s: Deps, userId: string) => Promise.all([readEntitlement(s.db, userId), userNow(s, userId)]);

// A token is issued and expires on real time; whether its grace has run out is decided on the
// time the customer lives on (their Stripe test clock's, in test mode: test-clocks.ts).

export async function issueToken(s: Deps, userId: string): Promise<{ token: string; expiresAt: number }> {
  const keys = await s.signer.keys();
  const [stored, customerNow] = await stateAndNow(s, userId);
  const claims = buildClaims(stored, s.signer.config, s.clock.now(), customerNow);
  return { token: await signClaims(claims, keys), expiresAt: claims.exp * 1000 };
}

/** The state as it stands now (a grace that ran out counts as suspended) and what it grants. */
export async function currentEntitlement(s: Deps, userId: string): Promise<{ state: EntitlementState; claims: EntitlementClaims }> {
  const now = s.clock.now();
  const [stored, customerNow] = await stateAndNow(s, userId);
  const state = effectiveState(stored, customerNow);
  return { state, claims: buildClaims(state, s.signer.config, now, customerNow) };
}

export async function checkFeature(s: Deps, userId: string, feature: string): Promise<Decision> {
  const [stored, customerNow] = await stateAndNow(s, userId);
  return can(buildClaims(stored, s.signer.config, s.clock.now(), customerNow), feature);
}

export async function publicKeys(s: Pick<Services, "signer">): Promise<{ keys: PublicJwk[] }> {
  return (await s.signer.keys()).jwks;
}
