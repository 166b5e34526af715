import { z } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { ENTITLEMENT_STATUSES } from "../db/schema";
import { signingConfig } from "../env";
import { buildClaims, effectiveState } from "../entitlements/claims";
import { can } from "../entitlements/decide";
import { loadSigningKeys } from "../entitlements/keys";
import { signClaims } from "../entitlements/sign";
import { readEntitlement } from "../entitlements/state";
import { claimsConfig } from "../http/deps";
import { defineRoute } from "../http/route";
import { newRouter } from "../http/router";
import { json, jsonBody, keyedErrors, publicErrors, Timestamp } from "../http/schemas";

export const UserId = z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, "must be 1-128 of A-Z a-z 0-9 _ . : @ -");

const Offer = z.object({ tier: z.string(), price: z.object({ amount: z.int(), currency: z.string(), interval: z.enum(["month", "year"]) }), url: z.url() });

const Jwks = z.object({ keys: z.array(z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string(), kid: z.string(), alg: z.literal("EdDSA"), use: z.literal("sig") })) }).openapi("Jwks");
const TokenBody = z.strictObject({ user_id: UserId }).openapi("TokenRequest");
const Token = z.object({ token: z.string(), expires_at: Timestamp }).openapi("EntitlementToken");
export type TokenResponse = z.infer<typeof Token>;

const Entitlement = z
  .object({
    user_id: z.string(),
    tier: z.string().nullable(),
    status: z.enum(ENTITLEMENT_STATUSES),
    features: z.array(z.string()),
    limits: z.record(z.string(), z.int().nullable()),
    trial_end: Timestamp.nullable(),
    grace_until: Timestamp.nullable(),
    current_period_end: Timestamp.nullable(),
    upgrade: z.record(z.string(), Offer),
    billing_url: z.url(),
  })
  .openapi("Entitlement");
export type EntitlementResponse = z.infer<typeof Entitlement>;

const CheckBody = z.strictObject({ user_id: UserId, feature: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be a feature key like nationwide_job_search") }).openapi("CheckRequest");
const Decision = z
  .object({
    allowed: z.boolean(),
    reason: z.string(),
    message: z.string().optional(),
    upgrade: Offer.optional(),
    billing_url: z.string().optional(),
    grace_until: z.int().nullable().optional(),
    trial_end: z.int().nullable().optional(),
  })
  .openapi("Decision");
export type DecisionResponse = z.infer<typeof Decision>;

const jwksRoute = defineRoute("jwks", { responses: { 200: json(Jwks, "The JWK set: current, next and retired public keys"), ...publicErrors } });
const tokenRoute = defineRoute("entitlementsToken", { request: { body: jsonBody(TokenBody) }, responses: { 200: json(Token, "A signed EdDSA JWT"), ...keyedErrors } });
const getRoute = defineRoute("entitlementsGet", { request: { params: z.object({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) }) }, responses: { 200: json(Entitlement, "The user's entitlements"), ...keyedErrors } });
const checkRoute = defineRoute("entitlementsCheck", { request: { body: jsonBody(CheckBody) }, responses: { 200: json(Decision, "The decision, with an upgrade prompt when denied"), ...keyedErrors } });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const entitlementRoutes = newRouter()
  .openapi(jwksRoute, async (c) => {
    const keys = await loadSigningKeys(signingConfig(c.env).ENTITLEMENTS_SIGNING_KEYS);
    // Short enough that a `next` key published before a switch reaches verifiers in time.
    c.header("cache-control", "public, max-age=300");
    return c.json(keys.jwks, 200);
  })
  .openapi(tokenRoute, async (c) => {
    const { user_id } = c.req.valid("json");
    const now = c.get("now");
    const keys = await loadSigningKeys(signingConfig(c.env).ENTITLEMENTS_SIGNING_KEYS);
    const claims = buildClaims(await readEntitlement(getDb(c.env.DB), user_id), claimsConfig(c), now);
    c.header("cache-control", "no-store");
    return c.json({ token: await signClaims(claims, keys), expires_at: new Date(claims.exp * 1000).toISOString() }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { user_id } = c.req.valid("param");
    const state = effectiveState(await readEntitlement(getDb(c.env.DB), user_id), c.get("now"));
    const claims = buildClaims(state, claimsConfig(c), c.get("now"));
    return c.json(
      {
        user_id,
        tier: state.tier,
        status: state.status,
        features: claims.features as string[],
        limits: claims.limits as Record<string, number | null>,
        trial_end: iso(state.trialEnd),
        grace_until: iso(state.graceUntil),
        current_period_end: iso(state.currentPeriodEnd),
        upgrade: claims.upgrade as Record<string, z.infer<typeof Offer>>,
        billing_url: claims.billing_url,
      },
      200,
    );
  })
  .openapi(checkRoute, async (c) => {
    const { user_id, feature } = c.req.valid("json");
    const claims = buildClaims(await readEntitlement(getDb(c.env.DB), user_id), claimsConfig(c), c.get("now"));
    const { allowed, reason, message, upgrade, billing_url, grace_until, trial_end } = can(claims, feature);
    return c.json({ allowed, reason, message, upgrade, billing_url, grace_until, trial_end }, 200);
  });
