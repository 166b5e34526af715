/**
 * Who may call what, in one table. Every route takes its method, path and permission from
 * ROUTES (routes/*.ts spread `ROUTES.x` into createRoute), and the tests walk this table
 * against every role, so a route cannot exist without a declared permission.
 */
import type { Role } from "../db/schema";

export const PERMISSIONS = {
  /** No key needed. */
  public: [],
  /** No key: the request must carry a valid Stripe signature instead. */
  stripe_signature: [],
  "keys:manage": ["admin"],
  "audit:read": ["admin", "analyst"],
  "events:read": ["admin"],
  "events:replay": ["admin"],
  "entitlements:issue": ["admin", "service"],
  "entitlements:read": ["admin", "service"],
  "billing:write": ["admin", "service"],
  "billing:read": ["admin", "service", "analyst"],
  "analytics:read": ["admin", "analyst"],
  "tools:invoke": ["admin", "service"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export const KEYLESS: ReadonlySet<Permission> = new Set(["public", "stripe_signature"]);

export function roleHas(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

type Method = "get" | "post" | "put" | "patch" | "delete";

export interface RouteSpec {
  method: Method;
  /** OpenAPI path syntax (`{id}`), as @hono/zod-openapi takes it. */
  path: string;
  permission: Permission;
  summary: string;
  tags: string[];
}

export const ROUTES = {
  health: { method: "get", path: "/health", permission: "public", summary: "Liveness and D1 check", tags: ["system"] },
  openapi: { method: "get", path: "/openapi.json", permission: "public", summary: "This API's OpenAPI 3.1 document", tags: ["system"] },
  catalog: { method: "get", path: "/v1/catalog", permission: "public", summary: "Tiers, prices, trials, features and limits", tags: ["catalog"] },
  keysCreate: { method: "post", path: "/v1/keys", permission: "keys:manage", summary: "Create an API key (shown once)", tags: ["keys"] },
  keysList: { method: "get", path: "/v1/keys", permission: "keys:manage", summary: "List API keys (no secrets)", tags: ["keys"] },
  keysRotate: { method: "post", path: "/v1/keys/{id}/rotate", permission: "keys:manage", summary: "Rotate a key: a new key now, the old one valid until a chosen expiry", tags: ["keys"] },
  keysRevoke: { method: "post", path: "/v1/keys/{id}/revoke", permission: "keys:manage", summary: "Revoke a key at once", tags: ["keys"] },
  auditList: { method: "get", path: "/v1/audit", permission: "audit:read", summary: "Audit log, newest first, paginated and filterable", tags: ["audit"] },
  jwks: { method: "get", path: "/.well-known/jwks.json", permission: "public", summary: "Public keys that verify entitlement tokens", tags: ["entitlements"] },
  entitlementsToken: { method: "post", path: "/v1/entitlements/token", permission: "entitlements:issue", summary: "Sign a short-lived entitlement token for a user", tags: ["entitlements"] },
  entitlementsGet: { method: "get", path: "/v1/entitlements/{user_id}", permission: "entitlements:read", summary: "A user's entitlements now (online check)", tags: ["entitlements"] },
  entitlementsCheck: { method: "post", path: "/v1/entitlements/check", permission: "entitlements:read", summary: "May this user use this feature now? (online check)", tags: ["entitlements"] },
  webhooksStripe: { method: "post", path: "/webhooks/stripe", permission: "stripe_signature", summary: "Stripe webhook endpoint (signed)", tags: ["webhooks"] },
  eventsList: { method: "get", path: "/v1/events", permission: "events:read", summary: "Recent Stripe events with status, attempts and last error", tags: ["events"] },
  eventsReplay: { method: "post", path: "/v1/events/{id}/replay", permission: "events:replay", summary: "Process a stored event again", tags: ["events"] },
  eventsReplayRange: { method: "post", path: "/v1/events/replay", permission: "events:replay", summary: "Process again every stored event created in a time range", tags: ["events"] },
  resync: { method: "post", path: "/v1/admin/resync", permission: "events:replay", summary: "Rebuild the mirror from Stripe, one resumable chunk per call", tags: ["events"] },
  auditVerify: { method: "get", path: "/v1/audit/verify", permission: "audit:read", summary: "Verify the audit hash chain", tags: ["audit"] },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;
