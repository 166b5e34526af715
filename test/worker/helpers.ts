import { env, SELF } from "cloudflare:test";
import { createApiKey } from "../../worker/src/auth/api-keys";
import { fixedClock, systemClock, type Clock } from "../../worker/src/clock";
import type { Role } from "../../worker/src/db/schema";
import { services } from "../../worker/src/wiring";

export const BASE = "http://billing.test";

let ipCounter = 0;
/** A fresh client IP per call keeps the per-IP rate limit out of tests that are not about it. */
export function freshIp(): string {
  ipCounter++;
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/**
 * The worker's services over the test D1, as a request, cron or queue batch gets them.
 * @param at a number stops the clock there; a Clock is used as it is; default: the system clock.
 */
export function svc(at?: number | Clock, d1?: D1Database) {
  const clock = at === undefined ? systemClock : typeof at === "number" ? fixedClock(at) : at;
  return services(env, clock, d1 ? { d1 } : {});
}

export const TEST_ACTOR = { type: "system" as const, id: "test" };

export async function makeKey(role: Role, opts: { expiresAt?: number; name?: string } = {}) {
  const { key, view } = await createApiKey(svc(), TEST_ACTOR, { name: opts.name ?? `${role}-test`, role, expiresAt: opts.expiresAt ?? null });
  return { key, id: view.id };
}

export function call(method: string, path: string, init: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; ip?: string } = {}) {
  const headers: Record<string, string> = { "cf-connecting-ip": init.ip ?? freshIp(), ...init.headers };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  } else if (init.rawBody !== undefined) body = init.rawBody;
  return SELF.fetch(`${BASE}${path}`, { method, headers, body });
}

export async function count(table: string): Promise<number> {
  const row = await env.DB.prepare(`select count(*) as n from ${table}`).first<{ n: number }>();
  return row?.n ?? 0;
}

/** Stripe's Unix seconds as the API writes an instant (RFC 3339, UTC, milliseconds), computed apart from the worker's own function. */
export const rfc3339 = (unixSeconds: number | null | undefined): string | null => (unixSeconds === null || unixSeconds === undefined ? null : new Date(unixSeconds * 1000).toISOString());
