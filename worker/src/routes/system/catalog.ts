import { createRoute, z } from "@hono/zod-openapi";
import { catalogPriceIds } from "../../subscriptions";
import { catalog, individualTiers } from "../../catalog";
import { BillingCycle } from "../../fields";
import { guard, handle } from "../../http/route";
import { json, publicErrors } from "../../http/schemas";

const Money = z.object({ amount: z.int(), currency: z.string() });
const CatalogResponse = z
  .object({
    currency: z.string(),
    tiers: z.array(
      z.object({
        key: z.string(),
        name: z.string(),
        rank: z.int(),
        trial_days: z.int(),
        prices: z.array(
          z.object({
            billing_cycle: BillingCycle,
            unit: Money,
            lookup_key: z.string(),
            stripe_price_id: z.string().nullable().openapi({ description: "Stripe's price for the lookup key; null when Stripe is not configured or has no such price" }),
          }),
        ),
        features: z.array(z.string()),
        limits: z.record(z.string(), z.int().nullable()),
      }),
    ),
    features: z.array(z.object({ key: z.string(), description: z.string() })),
    limits: z.array(z.object({ key: z.string(), description: z.string(), unit: z.string() })),
  })
  .openapi("Catalog");
export type CatalogResponse = z.infer<typeof CatalogResponse>;

// The catalog is static per deployment; only the Stripe price ids are looked up (and cached).
// Also the MCP server's catalog resource (routes/mcp/endpoint.ts).
// The tiers a person buys: seats for an organization are sold through POST /v1/organizations.
export const catalogBody = (ids: ReadonlyMap<string, string | null>): CatalogResponse => ({
  currency: catalog.currency,
  tiers: individualTiers(catalog).map((t) => ({
    key: t.key,
    name: t.name,
    rank: t.rank,
    trial_days: t.trialDays,
    prices: t.prices.map((p) => ({ billing_cycle: p.billingCycle, unit: p.unit, lookup_key: p.lookupKey, stripe_price_id: ids.get(p.lookupKey) ?? null })),
    features: t.features,
    limits: t.limits,
  })),
  features: catalog.features,
  limits: catalog.limits,
});

const route = createRoute({
  method: "get",
  path: "/v1/catalog",
  ...guard("public"),
  summary: "Tiers, prices, trials, features and limits",
  tags: ["catalog"],
  responses: { 200: json(CatalogResponse, "The catalog"), ...publicErrors },
});

export default handle(route, async (c) => {
  const ids = await catalogPriceIds(c.get("services"));
  c.header("cache-control", "public, max-age=300");
  return c.json(catalogBody(ids), 200);
});
