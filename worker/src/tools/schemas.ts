/** Pieces several tools' contracts share; the input rules the API shares with them are in fields.ts. */
import { z } from "zod";
import { catalog } from "../catalog";

export const FEATURE_KEYS = catalog.features.map((f) => f.key) as [string, ...string[]];

export const Feature = z.enum(FEATURE_KEYS).describe(`A feature of the catalog: ${FEATURE_KEYS.join(", ")}`);
export const Cents = z.int().describe("Integer minor units (cents) of `currency`");
