import { createRoute, z } from "@hono/zod-openapi";
import { catalog } from "../../catalog";
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
        prices: z.array(z.object({ interval: z.enum(["month", "year"]), unit: Money, lookup_key: z.string() })),
        features: z.array(z.string()),
        limits: z.record(z.string(), z.int().nullable()),
      }),
    ),
    features: z.array(z.object({ key: z.string(), description: z.string() })),
    limits: z.array(z.object({ key: z.string(), description: z.string(), unit: z.string() })),
  })
  .openapi("Catalog");
export type CatalogResponse = z.infer<typeof CatalogResponse>;

// The catalog is static per deployment: build the response body once.
const body: CatalogResponse = {
  currency: catalog.currency,
  tiers: catalog.tiers.map((t) => ({
    key: t.key,
    name: t.name,
    rank: t.rank,
    trial_days: t.trialDays,
    prices: t.prices.map((p) => ({ interval: p.interval, unit: p.unit, lookup_key: p.lookupKey })),
    features: t.features,
    limits: t.limits,
  })),
  features: catalog.features,
  limits: catalog.limits,
};

const route = createRoute({
  method: "get",
  path: "/v1/catalog",
  ...guard("public"),
  summary: "Tiers, prices, trials, features and limits",
  tags: ["catalog"],
  responses: { 200: json(CatalogResponse, "The catalog"), ...publicErrors },
});

export default handle(route, (c) => {
  c.header("cache-control", "public, max-age=300");
  return c.json(body, 200);
});
