/**
 * Which roles hold which permission, in one table. Each route file declares the permission it
 * needs beside its method and path (`guard(...)`), and the tests walk every registered route
 * against every role, so a route cannot exist without a declared permission.
 */
import type { Actor } from "../audit";
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
  /** The email outbox with every rendered email (addresses and bodies): admins only. */
  "emails:read": ["admin"],
  "entitlements:issue": ["admin", "service"],
  "entitlements:read": ["admin", "service"],
  "billing:write": ["admin", "service"],
  "billing:read": ["admin", "service", "analyst"],
  "analytics:read": ["admin", "analyst"],
  /** Entering the month's marketing spend (for CAC). */
  "analytics:write": ["admin"],
  /** Dunning cases and recovery rates (no addresses or email bodies). */
  "dunning:read": ["admin", "analyst"],
  "tools:invoke": ["admin", "service"],
  /** The compliance evidence report: configuration facts, key ages, backlogs (no secrets, no card data). */
  "compliance:read": ["admin", "analyst"],
  /** The agent tools' manifest (GET /v1/tools); each tool needs its REST twin's permission (worker/src/tools/registry.ts). */
  "tools:read": ["admin", "service", "analyst"],
  /** Moving a dunning case on now (its due stage or retry), as manage_dunning_process does. */
  "dunning:write": ["admin", "service"],
  /** The deployment checks (GET /v1/system/checks): every setting's state by name, the webhook endpoint, migrations, crons. */
  "system:read": ["admin"],
  /** A dispute's evidence (the customer's email, name and access log): building it, staging it and submitting it to Stripe. */
  "disputes:evidence": ["admin"],
  /** Outbound webhook endpoints: their URLs, secrets, deliveries, retries and replays. */
  "webhooks:manage": ["admin"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export const KEYLESS: ReadonlySet<Permission> = new Set(["public", "stripe_signature"]);

export function roleHas(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

/** Whether an actor may: only an API key has a role, so anyone else may do nothing keyed. */
export function actorHas(actor: Pick<Actor, "role">, permission: Permission): boolean {
  return actor.role !== undefined && roleHas(actor.role, permission);
}
