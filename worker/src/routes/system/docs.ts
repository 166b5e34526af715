import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../../http/context";
import { guard, handle } from "../../http/route";
import { publicErrors } from "../../http/schemas";

/**
 * The dashboard's CSP but one source: Scalar's renderer (Vue) puts its styles in `<style>`
 * elements at run time, which `style-src 'self'` would block, so this page alone also allows
 * inline styles. Scripts stay 'self' only (no inline script, no eval: the page starts Scalar
 * from /docs/static/docs.js), nothing loads from elsewhere (no CDN, no fonts service), and
 * "try it" can reach only this worker.
 */
export const DOCS_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

const headers = secureHeaders({ contentSecurityPolicy: DOCS_CSP, permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] } });
const docsHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await headers(c, next);
  c.header("cache-control", "public, max-age=300");
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payment Integration Agent API reference</title>
</head>
<body>
<div id="reference"></div>
<noscript>The reference needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/docs/static/vendor/scalar.standalone.js"></script>
<script src="/docs/static/docs.js"></script>
</body>
</html>
`;

const route = createRoute({
  method: "get",
  path: "/docs",
  ...guard("public"),
  // In place of guard's middleware, which for a public route checks nothing.
  middleware: [docsHeaders],
  summary: "The API reference (HTML), rendered from /openapi.json by Scalar served from this worker",
  tags: ["system"],
  responses: { 200: { description: "The reference page", content: { "text/html": { schema: z.string() } } }, ...publicErrors },
});

export default handle(route, (c) => c.html(PAGE, 200));
