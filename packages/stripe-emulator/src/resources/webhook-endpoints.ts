import type Stripe from "stripe";
import { API_VERSION } from "../core.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { bool, has, listFields, mergeMetadata, obj, s, str, strs, validate } from "../form.ts";
import { newId, randomToken } from "../ids.ts";
import { paginate } from "../list.ts";
import type { Core } from "../core.ts";

function checkUrl(url: string): void {
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw invalidRequest("Invalid URL: URL must be formatted as http(s)://...", "url", "url_invalid");
}

export function addWebhookEndpoint(
  core: Core,
  url: string,
  events: string[],
  secret?: string,
  description: string | null = null,
  metadata: Record<string, string> = {},
  apiVersion: string | null = API_VERSION,
): Stripe.WebhookEndpoint {
  const endpoint: Stripe.WebhookEndpoint = {
    id: newId("we"),
    object: "webhook_endpoint",
    api_version: apiVersion,
    application: null,
    created: core.realNow(),
    description,
    enabled_events: events,
    livemode: false,
    metadata,
    status: "enabled",
    url,
  };
  core.state.webhookEndpoints.set(endpoint.id, { endpoint, secret: secret ?? `whsec_${randomToken(32)}` });
  return endpoint;
}

export function createWebhookEndpoint(ctx: Ctx): Stripe.WebhookEndpoint {
  const p = validate(ctx.raw, { url: s.req(s.str()), enabled_events: s.req(s.arr(s.str())), description: s.str(), metadata: s.meta(), api_version: s.str(), connect: s.bool() });
  const url = str(p, "url") ?? "";
  checkUrl(url);
  const events = strs(p, "enabled_events") ?? [];
  if (events.length === 0) throw invalidRequest("Missing required param: enabled_events.", "enabled_events", "parameter_missing");
  // Kept as given; without it the endpoint follows the account's default version (null, as on Stripe).
  // It cannot be changed later: Stripe's update takes no api_version.
  const apiVersion = str(p, "api_version") ?? null;
  if (apiVersion !== null && !/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(apiVersion)) throw invalidRequest(`Invalid api_version: ${apiVersion}`, "api_version");
  const endpoint = addWebhookEndpoint(ctx.core, url, events, undefined, str(p, "description") ?? null, mergeMetadata(null, obj(p, "metadata"), false), apiVersion);
  const record = ctx.core.state.webhookEndpoints.get(endpoint.id);
  // The secret is only ever returned by create, as on Stripe.
  return { ...endpoint, secret: record?.secret ?? "" };
}

function requireEndpoint(ctx: Ctx): Stripe.WebhookEndpoint {
  const id = ctx.path.id ?? "";
  const record = ctx.core.state.webhookEndpoints.get(id);
  if (!record) throw resourceMissing("webhook_endpoint", id);
  return record.endpoint;
}

export function retrieveWebhookEndpoint(ctx: Ctx): Stripe.WebhookEndpoint {
  validate(ctx.raw, {});
  return requireEndpoint(ctx);
}

export function updateWebhookEndpoint(ctx: Ctx): Stripe.WebhookEndpoint {
  const p = validate(ctx.raw, { url: s.str(), enabled_events: s.arr(s.str()), description: s.str({ emptyable: true }), metadata: s.meta(), disabled: s.bool() });
  const endpoint = requireEndpoint(ctx);
  const url = str(p, "url");
  if (url !== undefined) checkUrl(url);
  if (url !== undefined) endpoint.url = url;
  if (has(p, "enabled_events")) endpoint.enabled_events = strs(p, "enabled_events") ?? endpoint.enabled_events;
  if (has(p, "description")) endpoint.description = str(p, "description") ?? null;
  if (has(p, "metadata")) endpoint.metadata = mergeMetadata(endpoint.metadata, obj(p, "metadata"), p.metadata === null);
  if (has(p, "disabled")) endpoint.status = bool(p, "disabled") ? "disabled" : "enabled";
  return endpoint;
}

export function deleteWebhookEndpoint(ctx: Ctx): Stripe.DeletedWebhookEndpoint {
  validate(ctx.raw, {});
  const endpoint = requireEndpoint(ctx);
  ctx.core.state.webhookEndpoints.delete(endpoint.id);
  return { id: endpoint.id, object: "webhook_endpoint", deleted: true };
}

export function listWebhookEndpoints(ctx: Ctx): Stripe.ApiList<Stripe.WebhookEndpoint> {
  const p = validate(ctx.raw, listFields);
  return paginate(
    [...ctx.core.state.webhookEndpoints.values()].reverse().map((r) => r.endpoint),
    p,
    "/v1/webhook_endpoints",
  );
}
