import { z } from "@hono/zod-openapi";

/** A plain address: no spaces, one @, a dot in the domain (Stripe checks it further). */
export const Email = z
  .string()
  .min(3)
  .max(254)
  .regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, "must be an email address");

/** Stripe promotion codes: letters, digits, dashes and underscores. */
export const PromotionCode = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, "must be 1-200 of A-Z a-z 0-9 _ -");

/** Where Stripe sends the user back: an http(s) URL on one of the app's origins (subscriptions/return-url.ts checks the origin). */
export const ReturnUrl = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .openapi({
    description:
      "An http(s) URL on one of the app's origins (APP_BASE_URL's, or one listed in APP_ORIGINS; any localhost port in development and test). Another origin is a 400 `validation_failed` naming this field.",
  });
