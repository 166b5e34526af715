import { z } from "@hono/zod-openapi";

export const UserId = z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, "must be 1-128 of A-Z a-z 0-9 _ . : @ -");

export const Offer = z.object({ tier: z.string(), price: z.object({ amount: z.int(), currency: z.string(), interval: z.enum(["month", "year"]) }), url: z.url() });
