import type { EntitlementClaims, EntitlementStatus } from "../claims.js";
import { ClaimInvalid } from "../errors.js";
import { PERIODS } from "./decide.js";

const STATUSES: ReadonlySet<string> = new Set<EntitlementStatus>(["trialing", "active", "past_due", "paused", "suspended", "canceled", "trial_expired", "none"]);
const MAX_ITEMS = 1024;
const HTTP_URL = /^https?:\/\/[^\s]+$/i;

type Json = Record<string, unknown>;

function fail(claim: string, what: string): never {
  throw new ClaimInvalid(`invalid "${claim}" claim: ${what}`, claim);
}
function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}
function optNum(p: Json, k: string, nullable: boolean): void {
  const v = p[k];
  if (v === undefined || (nullable && v === null) || isNum(v)) return;
  fail(k, nullable ? "must be a number or null" : "must be a number");
}
function url(v: unknown, claim: string): void {
  // These URLs are rendered as links by the app: only http(s), never javascript:/data:.
  if (typeof v !== "string" || v.length > 2048 || !HTTP_URL.test(v)) fail(claim, "must be an http(s) URL");
}

/**
 * Checks that a verified payload has the contract's shape and the expected `iss`/`aud`, then
 * freezes it (deeply). That it is a JSON object, and the time claims, are the caller's checks.
 */
export function validateClaims(p: Json, issuer: string, audience: string): EntitlementClaims {
  if (p.iss !== issuer) fail("iss", "unexpected issuer");
  const aud = p.aud;
  if (typeof aud === "string" ? aud !== audience : !(Array.isArray(aud) && aud.includes(audience))) {
    fail("aud", "unexpected audience");
  }
  if (typeof p.sub !== "string" || p.sub.length === 0) fail("sub", "must be a non-empty string");
  if (!isNum(p.iat)) fail("iat", "must be a number");
  if (!isNum(p.exp)) fail("exp", "must be a number");
  optNum(p, "nbf", false);
  if (p.jti !== undefined && typeof p.jti !== "string") fail("jti", "must be a string");
  if (p.tier !== null && (typeof p.tier !== "string" || p.tier.length === 0)) fail("tier", "must be a string or null");
  if (typeof p.status !== "string" || !STATUSES.has(p.status)) fail("status", "unknown status");

  const features = p.features;
  if (!Array.isArray(features) || features.length > MAX_ITEMS) fail("features", "must be an array of strings");
  for (const f of features) if (typeof f !== "string") fail("features", "must be an array of strings");

  const limits = p.limits;
  if (!isObject(limits)) fail("limits", "must be an object");
  for (const k of Object.keys(limits)) {
    const v = limits[k];
    if (v !== null && !(isNum(v) && v >= 0)) fail(`limits.${k}`, "must be a non-negative number or null");
  }

  optNum(p, "trial_end", true);
  optNum(p, "grace_until", true);

  const upgrade = p.upgrade;
  if (!isObject(upgrade)) fail("upgrade", "must be an object");
  const keys = Object.keys(upgrade);
  if (keys.length > MAX_ITEMS) fail("upgrade", "too many entries");
  for (const k of keys) {
    const o = upgrade[k];
    const c = `upgrade.${k}`;
    if (!isObject(o)) fail(c, "must be an object");
    if (typeof o.tier !== "string" || o.tier.length === 0) fail(`${c}.tier`, "must be a string");
    const price = o.price;
    if (!isObject(price)) fail(`${c}.price`, "must be an object");
    if (!Number.isSafeInteger(price.amount) || (price.amount as number) < 0) fail(`${c}.price.amount`, "must be integer cents");
    if (typeof price.currency !== "string" || !/^[A-Za-z]{3}$/.test(price.currency)) fail(`${c}.price.currency`, "must be an ISO 4217 code");
    if (typeof price.billing_cycle !== "string" || !Object.hasOwn(PERIODS, price.billing_cycle)) fail(`${c}.price.billing_cycle`, "must be monthly, annual, two_year or three_year");
    url(o.url, `${c}.url`);
    Object.freeze(price);
    Object.freeze(o);
  }
  url(p.billing_url, "billing_url");
  const org = p.org_id;
  if (org !== undefined && org !== null && (typeof org !== "string" || org.length === 0 || org.length > 128)) fail("org_id", "must be a string of 1-128 characters or null");

  Object.freeze(features);
  Object.freeze(limits);
  Object.freeze(upgrade);
  if (Array.isArray(aud)) Object.freeze(aud);
  return p as unknown as EntitlementClaims;
}
