/**
 * The README examples, type-checked by `npx tsc -p packages/entitlements` (not run). The
 * `Feature` line is the README's, and test/structure/sdk-readme.test.ts keeps both equal to the worker's catalog;
 * the `@ts-expect-error` lines fail the check if a wrong feature key ever compiles again.
 */
import { Hono } from "hono";
import express from "express";
import { createEntitlements, type Decision } from "../src/index.js";
import { requireFeature, type EntitlementVariables } from "../src/hono.js";
import { requireFeature as nodeRequire, type EntitlementRequest } from "../src/node.js";
import { applyWebhook, verifyWebhook, type WebhookEvent } from "../src/webhooks.js";

declare function showUpgrade(decision: Decision): unknown;

// Quick start
type Feature = "local_job_search" | "saved_searches" | "email_alerts" | "nationwide_job_search" | "mobile_app";

export const entitlements = createEntitlements<Feature>({
  baseUrl: process.env.BILLING_URL!,
  apiKey: process.env.BILLING_SERVICE_KEY!,
  issuer: "https://billing.federaljobadvisor.com",
  audience: "federal-job-advisor",
  failOpen: [],
});

export async function nationwideSearch(user: { id: string }) {
  const decision = await entitlements.check(user.id, "nationwide_job_search");
  if (!decision.allowed) {
    return showUpgrade(decision);
  }
  // @ts-expect-error the README's old key: not in the catalog
  await entitlements.check(user.id, "nationwide_search");
  return undefined;
}

// Hono
const app = new Hono<{ Variables: EntitlementVariables & { userId: string } }>();
app.get("/jobs/nationwide", requireFeature(entitlements, "nationwide_job_search", { userId: (c) => c.get("userId") }), (c) => c.json({ jobs: [], decision: c.get("entitlement") }));
// @ts-expect-error not a catalog feature
requireFeature(entitlements, "nationwide_search", { userId: (c) => c.get("userId") });

// Express / node:http
const eapp = express();
eapp.get("/jobs/nationwide", nodeRequire(entitlements, "nationwide_job_search", { userId: (req: express.Request & { user?: { id: string } }) => req.user?.id }), (req, res) =>
  res.json({ decision: (req as express.Request & EntitlementRequest).entitlement }),
);
// @ts-expect-error not a catalog feature
nodeRequire(entitlements, "nationwide_search", { userId: (req: express.Request & { user?: { id: string } }) => req.user?.id });

// @ts-expect-error failOpen takes catalog features only
createEntitlements<Feature>({ baseUrl: "https://x", apiKey: "k", issuer: "i", audience: "a", failOpen: ["nationwide_search"] });

// Freshness: the changes feed
const fresh = createEntitlements<Feature>({
  baseUrl: process.env.BILLING_URL!,
  apiKey: process.env.BILLING_SERVICE_KEY!,
  issuer: "https://billing.federaljobadvisor.com",
  audience: "federal-job-advisor",
  changes: { intervalMs: 15_000, onStale: (f) => console.warn("entitlements feed stale since", f.lastSuccessAt, f.error) },
});
fresh.freshness();
process.on("SIGTERM", () => fresh.close());
export const asOf: Promise<number | null> = fresh.check("u", "mobile_app").then((d) => d.as_of);
createEntitlements<Feature>({ baseUrl: "https://x", apiKey: "k", issuer: "i", audience: "a", changes: false });

// Receiving webhooks
const hooks = new Hono();
hooks.post("/webhooks/billing", async (c) => {
  let event: WebhookEvent;
  try {
    event = await verifyWebhook(await c.req.text(), c.req.raw.headers, process.env.BILLING_WEBHOOK_SECRET!);
  } catch (err) {
    return c.json({ error: (err as { code?: string }).code ?? "ERR_WEBHOOK" }, 400);
  }
  applyWebhook(entitlements, event);
  switch (event.type) {
    case "invoice.payment_failed":
      console.log(`payment failed for ${event.data.user_id}: ${event.data.invoice.amount_due} ${event.data.invoice.currency}`);
      break;
    default:
      break;
  }
  // @ts-expect-error an invoice event carries no entitlement
  if (event.type === "invoice.paid") event.data.after;
  return c.body(null, 204);
});
