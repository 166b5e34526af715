// Starts the API reference at /docs from a file, not an inline script, so the page's CSP can
// keep script-src to 'self'. The document is this worker's own /openapi.json.
/* global Scalar */
Scalar.createApiReference("#reference", {
  url: "/openapi.json",
  // Scalar's default fonts come from its CDN: the page must work with no internet.
  withDefaultFonts: false,
  hideClientButton: true,
  // "Try it" sends real requests to this worker, with the key typed into the page.
  authentication: { preferredSecurityScheme: "apiKey" },
});
