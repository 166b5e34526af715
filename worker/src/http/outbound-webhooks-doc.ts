/**
 * The outbound webhooks in /openapi.json (OpenAPI 3.1 `webhooks`): one entry per event type, its
 * body's schema from the catalog (outbound/catalog.ts) and the Standard Webhooks headers, so a
 * receiver can generate its types from the same document as the API's.
 */
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { EVENT_CATALOG, eventBody } from "../outbound";
import type { EventType } from "../outbox";
import type { AppEnv } from "./context";
import { named } from "./schemas";

const Headers = z.object({
  "webhook-id": z.string().describe("msg_...: the event's id, the same on every retry and replay (drop duplicates by it)"),
  "webhook-timestamp": z.string().describe("Unix seconds of this attempt; refuse one far from your clock"),
  "webhook-signature": z.string().describe("`v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, space-separated when two secrets sign (24 h after a rotation)"),
});

export function documentOutboundWebhooks(app: OpenAPIHono<AppEnv>): void {
  for (const type of Object.keys(EVENT_CATALOG) as EventType[]) {
    const schemaName = `WebhookEvent_${type.replace(/\./g, "_")}`;
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      summary: EVENT_CATALOG[type].summary,
      tags: ["webhook-events"],
      request: { headers: Headers, body: { required: true, content: { "application/json": { schema: named(eventBody(type), schemaName) } } } },
      responses: { 200: { description: "Any 2xx within 15 s acknowledges the event; anything else is retried" } },
    });
  }
}
