/**
 * The job-board demo app: `createApp(config)` (a Hono app, for tests and in-process use),
 * `startJobBoard(config)` (listens with @hono/node-server), `configFromEnv()` (the env vars).
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createApp } from "./app.ts";
import { resolveConfig, type JobBoardConfig } from "./config.ts";
import { registerWebhookEndpoint, WEBHOOK_PATH, type WebhookRegistration } from "./webhooks.ts";

export { createApp, demoUserId, type Feature } from "./app.ts";
export { configFromEnv, ConfigError, DEFAULTS, resolveConfig, type JobBoardConfig } from "./config.ts";
export { registerWebhookEndpoint, WEBHOOK_EVENTS, WEBHOOK_PATH, WebhookRegistrationError, type RegisterOptions, type WebhookRegistration } from "./webhooks.ts";

export interface RunningJobBoard {
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The public origin it was configured with (Checkout returns there). */
  origin: string;
  port: number;
  /**
   * With `adminKey`: the endpoint the app registered for itself (or found and reused), whose
   * secret it verifies deliveries with; save `id` and `secret` and pass them back as
   * `webhookEndpointId` and `webhookSecret` to reuse the endpoint without rotating its secret.
   */
  webhook: WebhookRegistration | null;
  /** Why registering failed (the app then runs on the changes feed alone), or null. */
  webhookError: string | null;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Starts the app on `config.host`:`config.port` (default 127.0.0.1:3000) and resolves once it
 * listens. With port 0 (a free port) and no `origin`, the origin is the address it got. With
 * `adminKey`, it first registers `<origin>/webhooks/billing` with the worker (see `webhook`).
 */
export async function startJobBoard(config: JobBoardConfig): Promise<RunningJobBoard> {
  const resolved = resolveConfig(config);
  let app: ReturnType<typeof createApp> | undefined;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: (req, env) => (app ? app.fetch(req, env) : new Response("starting", { status: 503 })), port: resolved.port, hostname: resolved.host }, async (info: AddressInfo) => {
      server.off("error", reject);
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      const url = `http://${host}:${info.port}`;
      const origin = config.origin ? resolved.origin : `http://${resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host}:${info.port}`;
      let webhook: WebhookRegistration | null = null;
      let webhookError: string | null = null;
      if (resolved.adminKey) {
        try {
          webhook = await registerWebhookEndpoint({
            billingUrl: resolved.billingUrl,
            adminKey: resolved.adminKey,
            url: `${origin}${WEBHOOK_PATH}`,
            ...(resolved.webhookSecret && resolved.webhookEndpointId && { known: { id: resolved.webhookEndpointId, secret: resolved.webhookSecret } }),
            ...(resolved.fetch && { fetch: resolved.fetch }),
          });
        } catch (e) {
          webhookError = e instanceof Error ? e.message : String(e);
        }
      }
      // One secret for the app: resolveConfig drew a random one when none was set.
      app = createApp({ ...config, sessionSecret: resolved.sessionSecret, origin, ...(webhook && { webhookSecret: webhook.secret, webhookEndpointId: webhook.id }) });
      resolve({
        url,
        origin,
        port: info.port,
        webhook,
        webhookError,
        close: () => new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done()))),
      });
    });
    server.once("error", reject);
  });
}
