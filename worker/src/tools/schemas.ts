/** Pieces several tools' contracts share, from the catalog and the API's own patterns. */
import { z } from "zod";
import { BILLING_CYCLES } from "../subscriptions";
import { catalog } from "../catalog";
import { USER_ID_PATTERN } from "../entitlements";

export const TIER_KEYS = catalog.tiers.map((t) => t.key) as [string, ...string[]];
export const FEATURE_KEYS = catalog.features.map((f) => f.key) as [string, ...string[]];

export const UserId = z.string().regex(USER_ID_PATTERN, "must be a user id: 1-128 of A-Z a-z 0-9 _ . : @ -").describe("The app's user id");
export const Tier = z.enum(TIER_KEYS).describe(`A tier of the catalog: ${TIER_KEYS.join(", ")}`);
export const Feature = z.enum(FEATURE_KEYS).describe(`A feature of the catalog: ${FEATURE_KEYS.join(", ")}`);
export const BillingCycle = z.enum(BILLING_CYCLES).describe("`monthly` or `annual`");
export const Cents = z.int().describe("Integer minor units (cents) of `currency`");
/** ISO 8601 in UTC, as the API writes every `_at` field. */
export const Instant = z.string().describe("ISO 8601 timestamp (UTC)");

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : iso(ms));
export const isoSeconds = (s: number | null | undefined): string | null => (s === null || s === undefined ? null : iso(s * 1000));
