/**
 * Outbound webhook endpoints: create, read, change, delete, rotate the secret. Each change is
 * audited; the URL rule (worker/src/fields.ts) is checked here, when an endpoint is saved, and
 * again before each delivery (deliver.ts), since a deployment's rules can change under it.
 */
import { eq } from "drizzle-orm";
import type { Actor } from "../audit";
import { randomHex } from "../crypto";
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from "../db/schema";
import { DomainError } from "../errors";
import { webhookUrlProblem } from "../fields";
import { EVENT_TYPES } from "../outbox";
import { presentWebhookEndpoint, type WebhookEndpointWire } from "../presenters";
import type { Services } from "../services";
import { newSecret, sealSecret } from "./secrets";

type Deps = Pick<Services, "db" | "clock" | "audit" | "outbound">;
type Row = typeof webhookEndpoints.$inferSelect;

/** How long a rotated-out secret keeps signing (as API keys' rotation). */
export const PREVIOUS_SECRET_VALID_MS = 24 * 3_600_000;

const bad = (field: string, message: string, detail: string) => new DomainError("validation_failed", detail, { errors: [{ field, message }] });

export function checkUrl(url: string, environment: Services["outbound"]["ENVIRONMENT"]): void {
  const problem = webhookUrlProblem(url, environment);
  if (problem) throw bad("url", problem, `The endpoint URL ${problem}.`);
}

/** The event types as stored: each a known type, or ["*"] alone; duplicates dropped. */
export function checkEvents(events: readonly string[]): string[] {
  if (events.length === 0) throw bad("events", "must name at least one event type", 'events must name at least one event type, or be ["*"] for all.');
  if (events.includes("*")) {
    if (events.length > 1) throw bad("events", '"*" stands alone', 'events is either ["*"] (every type) or a list of types, not both.');
    return ["*"];
  }
  const unknown = events.filter((e) => !(EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0)
    throw bad("events", `unknown event type(s): ${unknown.join(", ")}`, `Unknown event type(s) ${unknown.map((u) => JSON.stringify(u)).join(", ")}: the types are ${EVENT_TYPES.join(", ")}, or "*".`);
  return [...new Set(events)];
}

const noSuchEndpoint = (id: string) => new DomainError("not_found", `No webhook endpoint has the id ${id}.`, { errors: [{ field: "id", message: "no such endpoint" }] });

export async function endpointRow(s: Pick<Services, "db">, id: string): Promise<Row> {
  const row = await s.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
  if (!row) throw noSuchEndpoint(id);
  return row;
}

const summary = (r: Row) => ({ url: r.url, events: JSON.parse(r.events) as string[], enabled: r.enabled, description: r.description });

export async function createEndpoint(s: Deps, who: Actor, input: { url: string; events: string[]; description?: string | undefined }): Promise<WebhookEndpointWire & { secret: string }> {
  const config = s.outbound;
  checkUrl(input.url, config.ENVIRONMENT);
  const events = checkEvents(input.events);
  const secret = newSecret();
  const now = s.clock.now();
  const row: Row = {
    id: `we_${randomHex(12)}`,
    url: input.url,
    events: JSON.stringify(events),
    description: input.description ?? null,
    enabled: true,
    secret: await sealSecret(secret, config.WEBHOOK_SECRETS_KEY),
    previousSecret: null,
    previousSecretExpiresAt: null,
    failingSince: null,
    disabledReason: null,
    createdAt: now,
    updatedAt: now,
  };
  await s.audit.commit(async () => ({
    statements: [s.db.insert(webhookEndpoints).values(row)],
    entries: [{ actor: who, action: "webhook_endpoint.created", subject: { type: "webhook_endpoint", id: row.id }, after: summary(row) }],
    result: undefined,
  }));
  return { ...presentWebhookEndpoint(row), secret };
}

export async function listEndpoints(s: Pick<Services, "db">): Promise<WebhookEndpointWire[]> {
  const rows = await s.db.select().from(webhookEndpoints).orderBy(webhookEndpoints.createdAt, webhookEndpoints.id).all();
  return rows.map(presentWebhookEndpoint);
}

export async function getEndpoint(s: Pick<Services, "db">, id: string): Promise<WebhookEndpointWire> {
  return presentWebhookEndpoint(await endpointRow(s, id));
}

export async function updateEndpoint(
  s: Deps,
  who: Actor,
  id: string,
  patch: { url?: string | undefined; events?: string[] | undefined; enabled?: boolean | undefined; description?: string | null | undefined },
): Promise<WebhookEndpointWire> {
  if (patch.url !== undefined) checkUrl(patch.url, s.outbound.ENVIRONMENT);
  const events = patch.events === undefined ? undefined : checkEvents(patch.events);
  return s.audit.commit(async () => {
    const before = await endpointRow(s, id);
    const now = s.clock.now();
    const after: Row = {
      ...before,
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(events !== undefined ? { events: JSON.stringify(events) } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      // Enabled again: its failures start counting afresh.
      ...(patch.enabled === true && !before.enabled ? { failingSince: null, disabledReason: null } : {}),
      // An admin's own disabling is no failure to alert on (monitoring/alerts.ts reads failing_since).
      ...(patch.enabled === false ? { disabledReason: "disabled by an admin", failingSince: null } : {}),
      updatedAt: now,
    };
    const { id: _id, ...set } = after;
    return {
      statements: [s.db.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, id))],
      entries: [{ actor: who, action: "webhook_endpoint.updated", subject: { type: "webhook_endpoint", id }, before: summary(before), after: summary(after) }],
      result: presentWebhookEndpoint(after),
    };
  });
}

/** Deletes the endpoint with its deliveries and their attempts: nothing more is sent to it. */
export async function deleteEndpoint(s: Deps, who: Actor, id: string): Promise<void> {
  await s.audit.commit(async () => {
    const before = await endpointRow(s, id);
    return {
      statements: [
        s.db.delete(webhookAttempts).where(eq(webhookAttempts.endpointId, id)),
        s.db.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id)),
        s.db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)),
      ],
      entries: [{ actor: who, action: "webhook_endpoint.deleted", subject: { type: "webhook_endpoint", id }, before: summary(before) }],
      result: undefined,
    };
  });
}

/** A new secret now; the one it replaces still signs for 24 hours, so a receiver switches without a failed check. */
export async function rotateEndpointSecret(s: Deps, who: Actor, id: string): Promise<{ id: string; secret: string }> {
  const secret = newSecret();
  const sealed = await sealSecret(secret, s.outbound.WEBHOOK_SECRETS_KEY);
  return s.audit.commit(async () => {
    const before = await endpointRow(s, id);
    const now = s.clock.now();
    return {
      statements: [
        s.db
          .update(webhookEndpoints)
          .set({ secret: sealed, previousSecret: before.secret, previousSecretExpiresAt: now + PREVIOUS_SECRET_VALID_MS, updatedAt: now })
          .where(eq(webhookEndpoints.id, id)),
      ],
      entries: [{ actor: who, action: "webhook_endpoint.secret_rotated", subject: { type: "webhook_endpoint", id }, after: { previous_secret_expires_at: now + PREVIOUS_SECRET_VALID_MS } }],
      result: { id, secret },
    };
  });
}
