/** Pieces several tools' contracts share, from the catalog and the API's own patterns. */
import { z } from "zod";
import { BILLING_CYCLES } from "../billing/cycle";
import { catalog } from "../catalog";
import { USER_ID_PATTERN } from "../entitlements/user-id";

export const TIER_KEYS = catalog.tiers.map((t) => t.key) as [string, ...string[]];
export const FEATURE_KEYS = catalog.features.map((f) => f.key) as [string, ...string[]];

export const UserId = z.string().regex(USER_ID_PATTERN, "must be a user id: 1-128 of A-Z a-z 0-9 _ . : @ -").describe("The app's user id");
export const Tier = z.enum(TIER_KEYS).describe(`A tier of the catalog: ${TIER_KEYS.join(", ")}`);
export const Feature = z.enum(FEATURE_KEYS).describe(`A feature of the catalog: ${FEATURE_KEYS.join(", ")}`);
export const BillingCycle = z.enum(BILLING_CYCLES).describe("`monthly` or `annual`");
export const Cents = z.int().describe("Integer minor units (cents) of `currency`");
