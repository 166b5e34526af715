import { z } from "@hono/zod-openapi";
import { USER_ID_PATTERN } from "../../entitlements";

export const UserId = z.string().regex(USER_ID_PATTERN, "must be 1-128 of A-Z a-z 0-9 _ . : @ -");

export const Offer = z.object({ tier: z.string(), price: z.object({ amount: z.int(), currency: z.string(), interval: z.enum(["month", "year"]) }), url: z.url() });
