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
import { noteAccess } from "./access-log";
import { signClaims } from "./sign";
import { effectiveState, readEntitlement, type EntitlementState } from "./state";

type Deps = Pick<Services, "db" | "clock" | "signer" | "stripe" | "stripeMode" | "log">;
/** What a check or token issue that is counted in the access log needs besides. */
type CountedDeps = Deps & Pick<Services, "defer">;

/** The stored state and the time the user lives on, read side by side. */
const stateAndNow = (s: Deps, userId: string) => Promise.all([readEntitlement(s.db, userId), userNow(s, userId)]);

// A token is issued and expires on real time; whether its grace has run out is decided on the
// time the customer lives on (their Stripe test clock's, in test mode: test-clocks.ts). A token
// that grants a feature, and an online check that allows one, go into the access log
// (access-log.ts) at the customer's time, after the answer.

export async function issueToken(s: CountedDeps, userId: string): Promise<{ token: string; expiresAt: number }> {
  const keys = await s.signer.keys();
  const [stored, customerNow] = await stateAndNow(s, userId);
  const claims = buildClaims(stored, s.signer.config, s.clock.now(), customerNow);
  const token = await signClaims(claims, keys);
  if (claims.features.length > 0) noteAccess(s, { userId, at: customerNow, kind: "token", periodEnd: stored.currentPeriodEnd });
  return { token, expiresAt: claims.exp * 1000 };
}

/** The state as it stands now (a grace that ran out counts as suspended) and what it grants. */
export async function currentEntitlement(s: Deps, userId: string): Promise<{ state: EntitlementState; claims: EntitlementClaims }> {
  const now = s.clock.now();
  const [stored, customerNow] = await stateAndNow(s, userId);
  const state = effectiveState(stored, customerNow);
  return { state, claims: buildClaims(state, s.signer.config, now, customerNow) };
}

export async function checkFeature(s: CountedDeps, userId: string, feature: string): Promise<Decision> {
  const [stored, customerNow] = await stateAndNow(s, userId);
  const decision = can(buildClaims(stored, s.signer.config, s.clock.now(), customerNow), feature);
  if (decision.allowed) noteAccess(s, { userId, at: customerNow, kind: "check", periodEnd: stored.currentPeriodEnd });
  return decision;
}

export async function publicKeys(s: Pick<Services, "signer">): Promise<{ keys: PublicJwk[] }> {
  return (await s.signer.keys()).jwks;
}
