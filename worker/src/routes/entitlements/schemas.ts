import { z } from "@hono/zod-openapi";
import { BillingCycle } from "../../fields";

export const Offer = z.object({ tier: z.string(), price: z.object({ amount: z.int(), currency: z.string(), billing_cycle: BillingCycle }), url: z.url() });
