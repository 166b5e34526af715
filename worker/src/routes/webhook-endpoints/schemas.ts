import { z } from "@hono/zod-openapi";
import { named } from "../../http/schemas";
import { EVENT_TYPES } from "../../outbox";
import { CreatedWebhookEndpoint as CreatedWire, WebhookDelivery as DeliveryWire, WebhookEndpoint as EndpointWire } from "../../presenters";

export const WebhookEndpoint = named(EndpointWire, "WebhookEndpoint");
export const CreatedWebhookEndpoint = named(CreatedWire, "CreatedWebhookEndpoint");
export const WebhookDelivery = named(DeliveryWire, "WebhookDelivery");

/** Checked by the domain (outbound/endpoints.ts), which names `events` when a type is unknown. */
export const EventTypes = z
  .array(z.string().min(1).max(100))
  .max(EVENT_TYPES.length + 1)
  .describe(`Event types (${EVENT_TYPES.join(", ")}), or ["*"] for every type, today's and later ones`);

export const IdParam = z.object({
  id: z
    .string()
    .regex(/^we_[0-9a-f]{24}$/, "must be an endpoint id like we_...")
    .openapi({ param: { name: "id", in: "path" } }),
});

export const DeliveryParams = IdParam.extend({
  delivery_id: z
    .string()
    .regex(/^whd_[0-9a-f]{24}$/, "must be a delivery id like whd_...")
    .openapi({ param: { name: "delivery_id", in: "path" } }),
});
