import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { getPath } from "hono/utils/url";
import { systemClock, type Clock } from "./clock";
import { accessLog } from "./http/access-log";
import type { AppEnv } from "./http/context";
import { ApiError } from "./http/errors";
import { rateLimitByIp, requireJson } from "./http/middleware";
import { notFound } from "./http/not-found";
import { documentOutboundWebhooks } from "./http/outbound-webhooks-doc";
import { onError } from "./http/problem";
import { requestIds } from "./http/request-id";
import { staticAssets } from "./http/static-assets";
import { newRouter } from "./http/router";
import { pages, routes } from "./routes";
import webhooksStripe, { WEBHOOK_BODY_LIMIT } from "./routes/webhooks/stripe";
import { services } from "./wiring";

export const JSON_BODY_LIMIT = 64 * 1024;

const tooLarge = (limit: number) => () => {
  throw new ApiError("payload_too_large", `The body is over ${limit / 1024} KiB; send less.`);
};

/** Builds the request's services (the first middleware after the request id and the access log). */
function withServices(clock: Clock): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let waitUntil: ((p: Promise<unknown>) => void) | undefined;
    try {
      const ctx = c.executionCtx;
      waitUntil = (p) => ctx.waitUntil(p);
    } catch {
      // app.request() in a test has no execution context: deferred work just runs on.
    }
    c.set("services", services(c.env, clock, { ...(waitUntil ? { waitUntil } : {}) }));
    return next();
  };
}

/**
 * Stripe's deliveries get a router of their own, with only what the route's 200 depends on: the
 * request id, the access log line, the services, the 1 MiB limit, the route's own guard and
 * problem+json errors. The API's router matches every request against all its routes and runs
 * the API's middleware (security headers, CORS, rate limits, JSON checks) that a webhook skips
 * anyway; at Stripe's delivery rates that was a quarter of the route's time (issue 28,
 * `npm run bench -- webhooks`). The route stays registered on the API router too, for
 * /openapi.json and the 405 of another method on its path.
 */
function webhookRouter(clock: Clock) {
  const app = newRouter();
  app.use("*", requestIds);
  app.use("*", accessLog(clock, { afterAnswer: true }));
  app.use("*", withServices(clock));
  app.use("*", bodyLimit({ maxSize: WEBHOOK_BODY_LIMIT, onError: tooLarge(WEBHOOK_BODY_LIMIT) }));
  app.openapi(webhooksStripe.route, webhooksStripe.handler as never);
  app.onError(onError);
  return app;
}

const WEBHOOK_PATH = webhooksStripe.route.path;
const WEBHOOK_METHOD = webhooksStripe.route.method.toUpperCase();

/** @param clock the clock every request's services get (tests pass a fixed one). */
export function createApp(clock: Clock = systemClock) {
  const app = newRouter();
  const webhooks = webhookRouter(clock);
  const api = app.fetch;
  // Hono's request() (the tests') goes through fetch too, so every caller takes the same path.
  app.fetch = (request, env, ctx) => (request.method === WEBHOOK_METHOD && getPath(request) === WEBHOOK_PATH ? webhooks.fetch(request, env, ctx) : api(request, env, ctx));

  app.use("*", requestIds);
  app.use("*", accessLog(clock));
  app.use("*", withServices(clock));
  // Stripe's deliveries never reach this router (webhookRouter above); what does is held to the API's rules.
  app.use("*", secureHeaders());
  // Browsers may read only the public documents; everything else is server to server.
  app.use("/v1/catalog", cors({ origin: "*", allowMethods: ["GET"] }));
  app.use("/openapi.json", cors({ origin: "*", allowMethods: ["GET"] }));
  app.use("/.well-known/jwks.json", cors({ origin: "*", allowMethods: ["GET"] }));
  app.use("*", rateLimitByIp);
  app.use("/v1/*", bodyLimit({ maxSize: JSON_BODY_LIMIT, onError: tooLarge(JSON_BODY_LIMIT) }));
  app.use("/v1/*", requireJson);
  // The MCP endpoint takes JSON-RPC in JSON bodies: the same limits as the API.
  app.use("/mcp", bodyLimit({ maxSize: JSON_BODY_LIMIT, onError: tooLarge(JSON_BODY_LIMIT) }));
  app.use("/mcp", requireJson);
  // Other webhook paths and methods (a 404, a 405) still go through here.
  app.use("/webhooks/*", bodyLimit({ maxSize: WEBHOOK_BODY_LIMIT, onError: tooLarge(WEBHOOK_BODY_LIMIT) }));

  app.use("/dashboard/static/*", staticAssets);
  for (const { route, handler } of routes) app.openapi(route, handler as never);
  for (const { route, handler } of pages) app.openapi(route, handler as never);

  documentOutboundWebhooks(app);
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer", description: "An API key: `Authorization: Bearer fja_...`" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Payment Integration Agent API", version: "0.1.0", description: "Billing, dunning and access for Federal Job Advisor. Errors are RFC 9457 problem+json." },
  });

  app.notFound(notFound([...routes.map((r) => r.route), ...pages.map((r) => r.route), { method: "get", path: "/openapi.json" }]));
  app.onError(onError);
  return app;
}

export type App = ReturnType<typeof createApp>;
