/** Pieces several tools' contracts share; the input rules the API shares with them are in fields.ts. */
import { z } from "zod";
import { catalog } from "../catalog";

export const FEATURE_KEYS = catalog.features.map((f) => f.key) as [string, ...string[]];

export const Feature = z.enum(FEATURE_KEYS).describe(`A feature of the catalog: ${FEATURE_KEYS.join(", ")}`);
export const Cents = z.int().describe("Integer minor units (cents) of `currency`");
/** ISO 8601 in UTC, as the API writes every `_at` field. */
export const Instant = z.string().describe("ISO 8601 timestamp (UTC)");

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : iso(ms));
export const isoSeconds = (s: number | null | undefined): string | null => (s === null || s === undefined ? null : iso(s * 1000));
