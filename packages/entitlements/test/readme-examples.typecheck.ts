/** The README examples, type-checked by `npx tsc -p packages/entitlements` (not run). */
import { Hono } from "hono";
import express from "express";
import { createEntitlements } from "../src/index.js";
import { requireFeature, type EntitlementVariables } from "../src/hono.js";
import { requireFeature as nodeRequire, type EntitlementRequest } from "../src/node.js";
const entitlements = createEntitlements({ baseUrl: "https://x", apiKey: "k", issuer: "i", audience: "a" });
const app = new Hono<{ Variables: EntitlementVariables & { userId: string } }>();
app.get(
  "/jobs/nationwide",
  requireFeature(entitlements, "nationwide_search", { userId: (c) => c.get("userId") }),
  (c) => c.json({ jobs: [], decision: c.get("entitlement") }),
);
const eapp = express();
eapp.get(
  "/jobs/nationwide",
  nodeRequire(entitlements, "nationwide_search", { userId: (req: express.Request & { user?: { id: string } }) => req.user?.id }),
  (req, res) => res.json({ decision: (req as express.Request & EntitlementRequest).entitlement }),
);
